"""npm wire route: the OIDC token exchange npm performs in CI before publish / stage publish.

npm builds this URL with `new URL("/-/npm/v1/...", registry)`, so it is always at the host
root, even when the registry lives under a path prefix.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.clock import iso
from airlock.errors import TooManyRequests
from airlock.oidc.errors import ExchangeError
from airlock.oidc.exchange import exchange
from airlock.oidc.keys import KeyCache
from airlock.web.deps import ClientIp, Ctx
from airlock.web.npm.responses import json_response

router = APIRouter()


def key_cache(request: Request, ctx: Ctx) -> KeyCache:
    """The process's cache of issuer keys, made on first use (no import-time singleton)."""
    cache: KeyCache | None = getattr(request.app.state, "oidc_keys", None)
    if cache is None:
        cache = KeyCache(
            ttl=ctx.settings.oidc_jwks_cache_seconds,
            failure_ttl=ctx.settings.oidc_failure_cache_seconds,
            max_issuers=ctx.settings.oidc_key_cache_issuers,
        )
        request.app.state.oidc_keys = cache
    return cache


@router.post("/-/npm/v1/oidc/token/exchange/package/{name:pkg}")
async def exchange_token(name: str, request: Request, ctx: Ctx, ip: ClientIp) -> Response:
    wait = ctx.throttles.oidc_exchange.hit(ip)
    if wait is not None:
        raise TooManyRequests(
            f"Too many token exchanges from {ip}; try again in {wait} seconds.", retry_after=wait
        )
    # The bearer is the CI provider's ID token, not an Airlock token: it is read here
    # rather than through CurrentPrincipal.
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ExchangeError("send the CI provider's ID token as a Bearer authorization")
    result = await exchange(
        ctx, key_cache(request, ctx), name, value.strip(), request.headers.get("npm-command")
    )
    body = {
        "token": result.token,
        "token_type": "oidc",
        "created": iso(result.created),
        "expires": iso(result.expires),
    }
    return json_response(body, 201)
