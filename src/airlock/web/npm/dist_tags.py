"""npm wire routes: `npm dist-tag ls|add|rm`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.errors import BadRequest
from airlock.packages import manage, reads
from airlock.web.deps import Ctx, CurrentPrincipal, read_json
from airlock.web.npm import names
from airlock.web.npm.responses import json_response

# The {name:pkg} convertor must exist before the route decorators below compile paths.
names.register()
router = APIRouter()


@router.get("/-/package/{name:pkg}/dist-tags")
async def list_tags(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    return json_response(await reads.dist_tags(ctx, principal, name))


@router.put("/-/package/{name:pkg}/dist-tags/{tag}")
@router.post("/-/package/{name:pkg}/dist-tags/{tag}")
async def add_tag(
    name: str, tag: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    # npm sends the version as a JSON string: "1.0.0".
    version = await read_json(request, 4096)
    if not isinstance(version, str):
        raise BadRequest('The body must be the version as a JSON string, e.g. "1.0.0".')
    await manage.add_dist_tag(ctx, principal, name, tag, version)
    return json_response({"ok": True, "message": f"{tag}: {name}@{version}"}, status=201)


@router.delete("/-/package/{name:pkg}/dist-tags/{tag}")
async def remove_tag(name: str, tag: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    await manage.remove_dist_tag(ctx, principal, name, tag)
    return json_response({"ok": True, "message": f"tag {tag} removed"})
