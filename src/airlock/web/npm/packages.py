"""npm wire routes: packuments (full and abbreviated) and provenance attestations."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.packages import reads
from airlock.packages.errors import PackageNotFound
from airlock.packages.packument import SLSA_PROVENANCE
from airlock.stage import provenance
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm import names, upstream

# The {name:pkg} convertor must exist before the route decorators below compile paths.
names.register()
router = APIRouter()

CORGI = "application/vnd.npm.install-v1+json"


def matches_etag(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in candidates


@router.get("/-/npm/v1/attestations/{spec:pkg}")
async def attestations(spec: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    name, _, version = spec.rpartition("@")
    bundle = await reads.provenance(ctx, principal, name, version)
    kind = provenance.predicate_type(bundle, default=SLSA_PROVENANCE)
    body = {"attestations": [{"predicateType": kind, "bundle": orjson.loads(bundle)}]}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/{name:pkg}")
async def get_packument(
    name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    """Serve the stored bytes: ETag/304, gzip when accepted, corgi when asked for."""
    abbreviated = CORGI in request.headers.get("accept", "")
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    try:
        doc = await reads.packument(ctx, principal, name, abbreviated=abbreviated, gzip=gzip)
    except PackageNotFound:
        return await upstream.packument_response(request, ctx, name)  # uplink (or 404 again)
    headers = {
        "etag": doc.etag,
        # Revalidate every time (cheap: 304 from the stored ETag); restricted: no shared caches.
        "cache-control": "private, max-age=0" if doc.restricted else "public, max-age=0",
        "vary": "accept, accept-encoding, authorization",
    }
    if matches_etag(request.headers.get("if-none-match"), doc.etag):
        return Response(status_code=304, headers=headers)
    if doc.gzipped:
        headers["content-encoding"] = "gzip"
    media = CORGI if abbreviated else "application/json"
    return Response(doc.body, media_type=media, headers=headers)
