"""npm wire responses for names served from the uplink (the one fallback of the read routes)."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from airlock.context import AppContext
from airlock.uplink import service as uplink

CORGI_MEDIA = "application/vnd.npm.install-v1+json"
# Uplink tarballs are checked against their integrity and never change once cached.
_TARBALL_CACHE = "public, max-age=31536000, immutable"


async def packument_response(request: Request, ctx: AppContext, name: str) -> Response:
    """Called when `name` has no local packument: PackageNotFound unless it is proxied."""
    abbreviated = CORGI_MEDIA in request.headers.get("accept", "")
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    doc = await uplink.packument(ctx, name, abbreviated=abbreviated, gzip=gzip)
    headers = {
        "etag": doc.etag,
        "cache-control": "public, max-age=0",
        "vary": "accept, accept-encoding, authorization",
    }
    if doc.stale:
        headers["warning"] = uplink.STALE_WARNING
        headers["npm-notice"] = f"{name}: the uplink is unreachable; serving a cached copy"
    if doc.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if doc.gzipped:
        headers["content-encoding"] = "gzip"
    media = CORGI_MEDIA if abbreviated else "application/json"
    return Response(doc.body, media_type=media, headers=headers)


async def version_response(ctx: AppContext, name: str, spec: str) -> Response:
    """`GET /{name}/{version-or-tag}` of a name with no local packument."""
    body, stale = await uplink.version_document(ctx, name, spec)
    headers = {"cache-control": "public, max-age=0", "vary": "authorization"}
    if stale:
        headers["warning"] = uplink.STALE_WARNING
        headers["npm-notice"] = f"{name}: the uplink is unreachable; serving a cached copy"
    return Response(body, media_type="application/json", headers=headers)


async def tarball_response(ctx: AppContext, name: str, filename: str) -> Response:
    """Called when `name` has no local tarball of that file: PackageNotFound unless proxied."""
    key = await uplink.tarball(ctx, name, filename)
    headers = {"cache-control": _TARBALL_CACHE}
    path = ctx.blobs.local_path(key)
    if path is not None and await anyio.Path(path).is_file():
        return FileResponse(path, media_type="application/octet-stream", headers=headers)
    return StreamingResponse(
        ctx.blobs.stream(key), media_type="application/octet-stream", headers=headers
    )
