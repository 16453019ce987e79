"""npm wire routes: `npm trust` (create, list, revoke trust relationships)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.oidc import trust
from airlock.web.deps import Ctx, CurrentPrincipal, read_json
from airlock.web.npm.responses import json_response

router = APIRouter()

_BODY_LIMIT = 64 * 1024


@router.post("/-/package/{name:pkg}/trust")
async def create_trust(
    name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    # npm reads the answer with .json(): an array of the created configs, with ids.
    body = await read_json(request, _BODY_LIMIT)
    return json_response(await trust.create(ctx, principal, name, body), 201)


@router.get("/-/package/{name:pkg}/trust")
async def list_trust(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    return json_response(await trust.list_for(ctx, principal, name))


@router.delete("/-/package/{name:pkg}/trust/{trust_id}")
async def revoke_trust(name: str, trust_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    await trust.revoke(ctx, principal, name, trust_id)
    return Response(status_code=204, headers={"cache-control": "no-store"})
