"""npm wire routes: `npm token list|create|revoke` (contract §7).

Stage-only tokens: `"packages_and_scopes_permission": "read-write-stage-only"` (npm 11.20+
and npm 12), or Airlock's `"permission": "stage-only"` (see docs/security.md, "Tokens").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import profile
from airlock.authz import second_factor
from airlock.authz.principal import TokenPermission
from airlock.authz.second_factor import Purpose
from airlock.clock import iso
from airlock.errors import BadRequest, NotFound
from airlock.tokens import service as tokens
from airlock.tokens.models import Token
from airlock.tokens.requests import parse_create_request
from airlock.tokens.secrets import PREFIX
from airlock.web.deps import Ctx, CurrentPrincipal, read_json_object
from airlock.web.npm.responses import json_response

router = APIRouter()

PER_PAGE = 100


def token_body(token: Token, secret: str | None = None) -> dict[str, Any]:
    expires = iso(token.expires_at) if token.expires_at else None
    cidr = list(token.cidr or [])
    return {
        "key": tokens.token_key(token),
        # The full secret once at creation; afterwards a plain prefix that npm prints
        # (and matches `npm token revoke <full value>` against).
        "token": secret or token.display,
        "name": token.name,
        "description": token.description,
        "token_description": token.description,
        "type": token.kind,
        "permission": token.permission,
        "readonly": token.permission == TokenPermission.READ_ONLY.value,
        "packages": list(token.packages or []),
        "scopes": list(token.scopes or []),
        # null rather than []: npm prints "with IP whitelist:" for any array, even empty.
        "cidr_whitelist": cidr or None,
        "cidr": cidr,
        "bypass_2fa": token.bypass_2fa,
        "created": iso(token.created_at),
        "updated": iso(token.created_at),
        "expires": expires,
        "expiry": expires,
    }


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise BadRequest(f"Invalid {name}: expected a whole number from 0 to {high}.")
    return int(raw)


@router.get("/-/npm/v1/tokens")
async def list_tokens(request: Request, principal: CurrentPrincipal, ctx: Ctx) -> Response:
    user_id = profile.require_account_credential(principal, "list tokens", allow_granular=True)
    page = _int_param(request, "page", 0, 1_000_000)
    per_page = _int_param(request, "perPage", PER_PAGE, PER_PAGE) or PER_PAGE
    rows, total = await tokens.list_tokens(ctx, user_id, page * per_page, per_page)
    more = (page + 1) * per_page < total
    next_url = f"{ctx.settings.base_url}/-/npm/v1/tokens?page={page + 1}&perPage={per_page}"
    return json_response(
        {
            "objects": [token_body(t) for t in rows],
            "total": total,
            "urls": {"next": next_url if more else None},
        }
    )


@router.post("/-/npm/v1/tokens")
async def create_token(request: Request, principal: CurrentPrincipal, ctx: Ctx) -> Response:
    user_id = profile.require_account_credential(principal, "create tokens")
    body = await read_json_object(request)
    spec = parse_create_request(body, ctx.settings)
    await profile.check_own_password(ctx, user_id, body.get("password"), principal.client_ip)
    await second_factor.require(ctx, principal, Purpose.CREDENTIALS, description="Create a token")
    created = await tokens.create_granular(ctx, user_id, spec)
    return json_response(token_body(created.token, created.secret), status=201)


@router.delete("/-/npm/v1/tokens/token/{ref}")
async def revoke_token(ref: str, principal: CurrentPrincipal, ctx: Ctx) -> Response:
    user_id = profile.require_account_credential(principal, "revoke tokens")
    key = unquote(ref)
    # Never the secret itself in the description (it is stored and shown): only a key.
    what = "Revoke a token" if key.startswith(PREFIX) else f"Revoke token {key[:64]}"
    await second_factor.require(ctx, principal, Purpose.ACCOUNT, description=what)
    if not await tokens.revoke_by_reference(ctx, user_id, unquote(ref)):
        raise NotFound("No such token.")
    return Response(status_code=204, headers={"cache-control": "no-store"})
