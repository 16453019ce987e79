"""HEAD on every route that serves GET: run the request as a GET and drop the body.

pnpm's `publish --publish-wait-timeout` polls the new tarball with HEAD and reads its
`Content-Length`; other clients and proxies probe packuments and `/-/ping` the same way.
Doing it here, in front of every route (including pure-ASGI fast paths that never see
the router), keeps HEAD and GET from drifting: same status, same headers, no body.

When the GET answer carries no `Content-Length` (a streamed body), the body is counted
(never kept) and the real length is sent, so a HEAD never advertises a length that a GET
would not deliver.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        await self.app({**scope, "method": "GET"}, receive, _BodyDropper(send))


class _BodyDropper:
    """The `send` of a HEAD: passes the response start on, swallows the body."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.length = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            if any(name.lower() == b"content-length" for name, _ in headers):
                await self.send(message)
            else:
                self.start = message
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        if self.start is not None:
            self.length += len(message.get("body", b""))
            if message.get("more_body", False):
                return
            start, self.start = self.start, None
            headers = [
                *(
                    (name, value)
                    for name, value in start.get("headers", [])
                    if name.lower() != b"transfer-encoding"
                ),
                (b"content-length", str(self.length).encode()),
            ]
            await self.send({**start, "headers": headers})
        if not message.get("more_body", False):
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
