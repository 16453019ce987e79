"""ASGI middleware: a request id, one log line and the request metrics per HTTP request.

Pure ASGI (no BaseHTTPMiddleware) so streaming responses are not buffered. It logs the
route template, never the raw path or headers: paths and headers can carry secrets.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airlock.observability import metrics
from airlock.observability.logs import REQUEST_LOGGER, request_logger
from airlock.web.fastpath import FAST_ROUTE

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = request_logger()
        # The stdlib logger's own check (it caches the answer per level).
        self.enabled = logging.getLogger(REQUEST_LOGGER).isEnabledFor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = _route(scope)
            metrics.request(route, scope["method"], status, seconds)
            # structlog runs its processors before the stdlib level check: skip them all
            # when request lines are not wanted (e.g. log_level = warning).
            if self.enabled(logging.INFO):
                self.log.info(
                    "request",
                    request_id=request_id,
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                    user=_user(scope),
                )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get(FAST_ROUTE)
    return str(path) if path else "unmatched"


def _user(scope: Scope) -> str | None:
    principal: Any = scope.get("state", {}).get("principal")
    user = getattr(principal, "user", None)
    name = getattr(user, "name", None)
    return str(name) if name else None
