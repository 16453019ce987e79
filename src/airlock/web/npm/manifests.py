"""`GET /{name}/{version-or-tag}`: one version's document, as npmjs serves it.

pnpm 12 asks for `/{name}/latest` (`pnpm add <name>` with no version) before anything
else; without this route it fails with a 404 (found by the pnpm end-to-end tests). The
document is the version's entry of the stored full packument, so it can never disagree
with it, and the same visibility rule applies (a restricted package is a 404 to others).
A name not hosted here comes from the uplink; a version or tag its cached copy lacks
refetches it once (uplink.service.version_document).
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
from fastapi import APIRouter
from starlette.responses import Response

from airlock.packages import reads
from airlock.packages.errors import PackageNotFound
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm import names, upstream

names.register()
router = APIRouter()


def _version_doc(body: bytes, spec: str) -> dict[str, Any] | None:
    doc = orjson.loads(body)
    versions = doc.get("versions") or {}
    version = (doc.get("dist-tags") or {}).get(spec, spec)
    found = versions.get(version)
    return found if isinstance(found, dict) else None


@router.get("/{name:pkg}/{spec}")
async def version_manifest(name: str, spec: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    try:
        stored = await reads.packument(ctx, principal, name, abbreviated=False, gzip=False)
    except PackageNotFound:
        return await upstream.version_response(ctx, name, spec)  # uplink (or 404 again)
    found = await anyio.to_thread.run_sync(_version_doc, stored.body, spec)
    if found is None:
        raise PackageNotFound(f"{name}@{spec}")
    cache = "private, max-age=0" if stored.restricted else "public, max-age=0"
    return Response(
        orjson.dumps(found),
        media_type="application/json",
        headers={"cache-control": cache, "vary": "authorization"},
    )
