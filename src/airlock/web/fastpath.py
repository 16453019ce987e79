"""The read fast path: GET/HEAD of packuments and tarballs as plain ASGI, before FastAPI.

Installs are almost all packument and tarball GETs. Routing, dependency injection and a
database round trip per request cost more than the work itself, so this middleware answers
them from the process's ReadCache (pre-built bytes + package facts) and hands everything
else, and every case it does not handle exactly like the slow path, to the app:
Basic credentials, bad tokens (the app answers the 401), query strings, Range requests,
tarballs from a remote blob store or larger than `_INLINE_TARBALL`.

The visibility rule is the one call `readcache.can_read`; the unknown-name case is the one
call `_unknown_package`, or with an uplink `_proxied` (the stored uplink copy while within
its TTL; the app revalidates it otherwise); tarball bytes come from the one call
`_tarball_body` (where a remote store would redirect or stream).
"""

from __future__ import annotations

import os
import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import Unauthorized
from airlock.observability import metrics
from airlock.packages.names import version_from_filename
from airlock.packages.readcache import ChangeCounter, Entry, ReadCache, can_read
from airlock.uplink import service as uplink
from airlock.web.client_address import ANONYMOUS_IP, resolve_client_ip
from airlock.web.npm.packages import CORGI, matches_etag
from airlock.web.npm.tarballs import IMMUTABLE

_NAME = re.compile(r"^(?:@[A-Za-z0-9._~-]+/)?[A-Za-z0-9._~-]+$")
# Tarballs up to this size are read in one call on the event loop (page cache: microseconds);
# bigger ones go to the app's streaming file response.
_INLINE_TARBALL = 1024 * 1024
_VARY = (b"vary", b"accept, accept-encoding, authorization")
_OCTETS = (b"content-type", b"application/octet-stream")
_PUBLIC_TARBALL = ((b"cache-control", f"public, {IMMUTABLE}".encode()), _OCTETS)
_PRIVATE_TARBALL = ((b"cache-control", f"private, {IMMUTABLE}".encode()), _OCTETS)
# Scope key naming the route template of an answer the fast path gave.
FAST_ROUTE = "airlock.fast_route"
PACKUMENT_ROUTE = "/{name:pkg}"
TARBALL_ROUTE = "/{name:pkg}/-/{filename}"


class ReadFastPath:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        settings = ctx.settings
        # One cache per app (per process); it drops entries when this process's writes
        # commit (db.change_listeners) and revalidates for other processes' writes.
        self.reads = ReadCache(
            ctx.db,
            max_age=settings.read_cache_seconds,
            max_entries=settings.read_cache_max_entries,
            counter=ChangeCounter(settings.data / "run" / "changes.seq"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or scope["query_string"]
            or scope["path"].startswith("/-/")
        ):
            await self.app(scope, receive, send)
            return
        target = _parse(scope["path"])
        principal = await self._principal(scope) if target else None
        if target is None or principal is None:
            await self.app(scope, receive, send)
            return
        name, filename = target
        head = scope["method"] == "HEAD"
        if filename is None:
            handled = await self._packument(scope, send, principal, name, head)
        else:
            handled = await self._tarball(send, principal, name, filename, head)
        if not handled:
            await self.app(scope, receive, send)
            return
        # What the request observer (web/observe.py) logs and counts for an answer given
        # here: the route template the app would have matched, and the caller.
        scope[FAST_ROUTE] = PACKUMENT_ROUTE if filename is None else TARBALL_ROUTE
        scope.setdefault("state", {})["principal"] = principal

    async def _principal(self, scope: Scope) -> Principal | None:
        """The caller for bearer or anonymous requests; None: let the app decide."""
        auth = otp = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                auth = value.decode("latin-1")
            elif key == b"npm-otp":
                otp = value.decode("latin-1") or None
        client = scope.get("client")
        peer = client[0] if client else ANONYMOUS_IP
        forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        ip = resolve_client_ip(peer, forwarded, self.ctx.settings.trusted_proxies)
        if auth is None:
            return Principal(user=None, token=None, via="anonymous", client_ip=ip, otp=otp)
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        try:
            user, token = await self.ctx.tokens.authenticate(value.strip(), ip)
        except Unauthorized:
            return None
        return Principal(user=user, token=token, via="bearer", client_ip=ip, otp=otp)

    async def _visible(self, principal: Principal, name: str) -> tuple[Entry, bool]:
        """The cache entry and whether this caller may see the package."""
        entry = await self.reads.entry(name)
        return entry, entry.facts is not None and can_read(principal, entry.facts)

    async def _packument(
        self, scope: Scope, send: Send, principal: Principal, name: str, head: bool
    ) -> bool:
        accept = encoding = inm = ""
        for key, value in scope["headers"]:
            if key == b"accept":
                accept = value.decode("latin-1")
            elif key == b"accept-encoding":
                encoding = value.decode("latin-1")
            elif key == b"if-none-match":
                inm = value.decode("latin-1")
        entry, visible = await self._visible(principal, name)
        if entry.package_id is None:
            if self.ctx.uplink is not None:
                # Not hosted here: the stored uplink copy while fresh, else the app
                # (uplink/service.py revalidates, serves stale when down, or 404s).
                return await self._proxied(send, name, entry, accept, encoding, inm, head)
            return await _unknown_package(send, name, head)
        if not visible:
            await _not_found(send, f"Not found: {name}", head)
            return True
        abbreviated = CORGI in accept
        gzip = "gzip" in encoding
        body = await self.reads.document(name, entry, abbreviated, gzip)
        if body is None or entry.etag is None or entry.facts is None:
            return False  # changed meanwhile or nothing published: the app reads the database
        etag = f'"{entry.etag}-c"' if abbreviated else f'"{entry.etag}"'
        restricted = entry.facts.access != "public"
        headers = [
            (b"etag", etag.encode()),
            (b"cache-control", b"private, max-age=0" if restricted else b"public, max-age=0"),
            _VARY,
        ]
        return await _send_document(send, headers, body, etag, inm, abbreviated, gzip, head)

    async def _proxied(
        self, send: Send, name: str, entry: Entry, accept: str, encoding: str, inm: str, head: bool
    ) -> bool:
        """A proxied name's stored uplink packument, as the app would serve it while fresh."""
        copy = entry.uplink
        now = self.ctx.clock.now()
        if copy is None or now >= copy.fresh_until:
            copy = await uplink.cached_copy(self.ctx, name)
            if copy is None or now >= copy.fresh_until or not self.reads.is_current(name, entry):
                return False
            entry.uplink = copy
        abbreviated = CORGI in accept
        gzip = "gzip" in encoding
        body = await uplink.copy_form(self.ctx, name, copy, (abbreviated, gzip))
        if body is None or not self.reads.is_current(name, entry):
            return False  # replaced or created locally meanwhile: the app decides
        etag = uplink.copy_etag(copy, abbreviated)
        headers = [(b"etag", etag.encode()), (b"cache-control", b"public, max-age=0"), _VARY]
        metrics.uplink("packument", "hit")
        return await _send_document(send, headers, body, etag, inm, abbreviated, gzip, head)

    async def _tarball(
        self, send: Send, principal: Principal, name: str, filename: str, head: bool
    ) -> bool:
        version = version_from_filename(name, filename)
        if version is None:
            return False
        entry, visible = await self._visible(principal, name)
        if entry.package_id is None and self.ctx.uplink is not None:
            return False  # not hosted here: the app asks the uplink (uplink/service.py)
        key = await self.reads.tarball_key(entry, version) if visible else None
        if key is None or entry.facts is None:
            await _not_found(send, f"Not found: {name}@{version}", head)
            return True
        body = _tarball_body(self.ctx, entry, key)
        if body is None:
            return False
        headers = list(_PUBLIC_TARBALL if entry.facts.access == "public" else _PRIVATE_TARBALL)
        await _send(send, 200, headers, body, head)
        return True


def _parse(path: str) -> tuple[str, str | None] | None:
    """(package name, tarball file name or None) of a packument or tarball path."""
    parts = path[1:].split("/")
    if parts[0].startswith("@"):
        if len(parts) < 2:
            return None
        name, rest = f"{parts[0]}/{parts[1]}", parts[2:]
    else:
        name, rest = parts[0], parts[1:]
    if not _NAME.match(name):
        return None
    if not rest:
        return name, None
    if len(rest) == 2 and rest[0] == "-" and rest[1]:
        return name, rest[1]
    return None


def _tarball_body(ctx: AppContext, entry: Entry, key: str) -> bytes | None:
    """The tarball's bytes, or None to let the app serve it (remote store, large file,
    missing file: the app answers those as it always has)."""
    path = entry.paths.get(key)
    if path is None:
        # Resolving the path costs a few syscalls per component: once per key.
        local = ctx.blobs.local_path(key)
        if local is None:
            return None
        path = entry.paths[key] = str(local)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        # A small file from the page cache: one read on the loop beats a thread hop.
        size = os.fstat(fd).st_size
        if size > _INLINE_TARBALL:
            return None
        # Exactly the file's size: os.read(fd, n) allocates n bytes first, and a 1 MiB
        # buffer per request (mmap, page faults, munmap) cost ten times the read itself.
        body = os.read(fd, size)
        return body if len(body) == size else None
    except OSError:
        return None
    finally:
        os.close(fd)


async def _unknown_package(send: Send, name: str, head: bool) -> bool:
    """No package by this name here (the miss branch: an uplink would fetch it upstream)."""
    await _not_found(send, f"Not found: {name}", head)
    return True


async def _not_found(send: Send, message: str, head: bool) -> None:
    body = orjson.dumps({"error": message, "message": message})
    headers = [(b"cache-control", b"no-store"), (b"content-type", b"application/json")]
    await _send(send, 404, headers, body, head)


async def _send(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool
) -> None:
    if status != 304:
        headers.append((b"content-length", str(len(body)).encode()))
    start: Message = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _send_document(
    send: Send,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    etag: str,
    inm: str,
    abbreviated: bool,
    gzip: bool,
    head: bool,
) -> bool:
    """A packument answer (local or proxied): 304 for a matching ETag, else the stored form."""
    if matches_etag(inm, etag):
        await _send(send, 304, headers, b"", head=True)
        return True
    if gzip:
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-type", (CORGI if abbreviated else "application/json").encode()))
    await _send(send, 200, headers, body, head)
    return True
