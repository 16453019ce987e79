"""npm wire routes: tarball downloads and the tarball DELETE of `npm unpublish`."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from airlock.context import AppContext as AppContextT
from airlock.packages import manage, reads
from airlock.packages.errors import PackageNotFound
from airlock.packages.names import version_from_filename
from airlock.storage.base import BlobMissing
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm import names, upstream
from airlock.web.npm.responses import json_response

# The {name:pkg} convertor must exist before the route decorators below compile paths.
names.register()
router = APIRouter()

# A published tarball never changes (versions are immutable), so caches may keep it forever.
IMMUTABLE = "max-age=31536000, immutable"


@router.get("/{name:pkg}/-/{filename}")
async def get_tarball(name: str, filename: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    try:
        key, restricted = await reads.tarball(ctx, principal, name, filename)
    except PackageNotFound:
        return await upstream.tarball_response(ctx, name, filename)  # uplink (or 404 again)
    headers = {"cache-control": f"{'private' if restricted else 'public'}, {IMMUTABLE}"}
    path = ctx.blobs.local_path(key)
    if path is not None:
        if not await anyio.Path(path).is_file():
            raise PackageNotFound(f"{name}/-/{filename}")
        return FileResponse(path, media_type="application/octet-stream", headers=headers)
    return await _remote_tarball(ctx, key, name, filename, headers)


async def _remote_tarball(
    ctx: AppContextT, key: str, name: str, filename: str, headers: dict[str, str]
) -> Response:
    """S3: a short-lived presigned redirect (setting s3_presign_seconds), else streamed."""
    seconds = ctx.settings.s3_presign_seconds
    if seconds > 0:
        url = await ctx.blobs.presigned_url(key, seconds)
        if url is not None:
            # The redirect itself must not outlive the signature.
            return RedirectResponse(url, 307, headers={"cache-control": "private, no-store"})
    try:
        chunks = await ctx.blobs.open(key)
    except BlobMissing as exc:
        raise PackageNotFound(f"{name}/-/{filename}") from exc
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.delete("/{name:pkg}/-/{filename}/-rev/{rev}")
async def delete_tarball(
    name: str, filename: str, rev: str, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    """Last step of `npm unpublish name@version`: the version is usually tombstoned already."""
    version = version_from_filename(name, filename)
    if version is None:
        raise PackageNotFound(f"{name}/-/{filename}")
    await manage.unpublish_versions(ctx, principal, name, [version], None)
    return json_response({"ok": True, "success": True, "message": "tarball removed"})
