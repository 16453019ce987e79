"""Scoped package names in URLs.

npm escapes `@scope/name` as `@scope%2fname`, but tarball paths carry a literal slash and
some clients send `%2F` or `%40`. The server decodes the path before routing, so a scoped
name would span two path segments. This middleware joins `@scope/name` into one segment,
`@scope:name` (":" can never appear in a package name), and the `pkg` convertor turns it
back, so every route matches one `{name:pkg}` segment whatever spelling was sent.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

_SCOPED = re.compile(r"/@([^/:]+)/([^/]+)")


class ScopedNameMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if "/@" in path:
                scope = dict(scope)
                scope["path"] = _SCOPED.sub(r"/@\1:\2", path, count=1)
        await self.app(scope, receive, send)


class PackageNameConvertor(Convertor[str]):
    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace(":", "/", 1) if value.startswith("@") else value

    def to_string(self, value: str) -> str:
        return value.replace("/", ":", 1)


def register() -> None:
    register_url_convertor("pkg", PackageNameConvertor())


def escaped(name: str) -> str:
    """npm's escapedName: the scope's slash as %2f."""
    return name.replace("/", "%2f")
