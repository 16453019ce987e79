"""npm wire routes: `npm access get|set|list`.

Airlock has users but no organisations or teams: `access list packages` first asks
`/-/org/<name>/package`, gets the default 404, and falls back to `/-/user/<name>/package`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.errors import Unauthorized
from airlock.packages import manage, reads
from airlock.web.deps import Ctx, CurrentPrincipal, read_json_object
from airlock.web.npm import names
from airlock.web.npm.responses import json_response

# The {name:pkg} convertor must exist before the route decorators below compile paths.
names.register()
router = APIRouter()


@router.get("/-/package/{name:pkg}/visibility")
async def visibility(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    return json_response(await reads.visibility(ctx, principal, name))


@router.get("/-/package/{name:pkg}/access")
async def access_status(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    """`pnpm access get status`: pnpm 12 reads `access` ("public" when absent) and, with
    --json, `publish_requires_tfa` (see docs/clients.md). Same visibility rule as npm's
    `/visibility`: a restricted package is a 404 to those who may not see it."""
    found = await reads.visibility(ctx, principal, name)
    return json_response(
        {
            "access": "public" if found["public"] else "restricted",
            "publish_requires_tfa": found["mfa"] != "none",
        }
    )


@router.post("/-/package/{name:pkg}/access")
async def set_access(
    name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to change the settings of {name}.")
    body = await read_json_object(request)
    await manage.set_access(ctx, principal, name, body)
    return json_response({"ok": True, "message": "access changed"})


@router.get("/-/package/{name:pkg}/collaborators")
async def collaborators(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    return json_response(await reads.collaborators(ctx, principal, name))


@router.get("/-/user/{user}/package")
async def user_packages(user: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    return json_response(await reads.packages_of(ctx, user, principal))
