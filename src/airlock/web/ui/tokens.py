"""The tokens page: list, create (including stage-only and package-limited), revoke.

The same services and rules as `npm token create|revoke`: creating needs the password and
(with 2FA) a code; revoking needs a code in auth-and-writes mode.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import profile
from airlock.authz import second_factor
from airlock.authz.second_factor import Purpose
from airlock.errors import AirlockError, NotFound
from airlock.tokens import service as tokens
from airlock.tokens.requests import parse_create_request
from airlock.web.deps import Ctx, client_ip
from airlock.web.ui import session as web
from airlock.web.ui.render import PREFIX, page, redirect

router = APIRouter(prefix=PREFIX)


async def _tokens_page(
    request: Request, ctx: Ctx, user_id: object, status: int = 200, **values: object
) -> Response:
    rows, total = await tokens.list_tokens(ctx, user_id, 0, 100)  # type: ignore[arg-type]
    return page(request, "tokens.html", status, title="Tokens", tokens=rows, total=total, **values)


@router.get("/account/tokens")
async def tokens_page(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    return await _tokens_page(request, ctx, user.id)


@router.post("/account/tokens")
async def create(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    packages = [p.strip() for p in web.field(data, "packages", False).split(",") if p.strip()]
    body = {
        "name": web.field(data, "name", False) or None,
        "permission": web.field(data, "permission", False) or "read-only",
        "packages": [p for p in packages if not p.endswith("/*")],
        "scopes": [p[:-2] for p in packages if p.endswith("/*")],
        "expires": web.field(data, "expires", False) or None,
    }
    try:
        spec = parse_create_request(body, ctx.settings)
        password = web.field(data, "password", False)
        await profile.check_own_password(ctx, user.id, password, client_ip(request))
        code = web.field(data, "code", False) or None
        await second_factor.require(ctx, web.principal(request, user, code), Purpose.CREDENTIALS)
        created = await tokens.create_granular(ctx, user.id, spec)
    except AirlockError as exc:
        return await _tokens_page(request, ctx, user.id, exc.status, error=exc.message)
    return await _tokens_page(request, ctx, user.id, 201, created=created.secret)


@router.post("/account/tokens/{ref}/revoke")
async def revoke(ref: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    try:
        code = web.field(data, "code", False) or None
        await second_factor.require(ctx, web.principal(request, user, code), Purpose.ACCOUNT)
    except AirlockError as exc:
        return await _tokens_page(request, ctx, user.id, exc.status, error=exc.message)
    if not await tokens.revoke_by_reference(ctx, user.id, ref):
        raise NotFound("No such token.")
    return redirect(request, f"{PREFIX}/account/tokens")
