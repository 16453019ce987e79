"""Request-scoped dependencies: the app context, the client address, the caller, and
bounded JSON bodies."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from airlock.audit.origin import set_origin
from airlock.authz.principal import Principal, SignedIn
from airlock.context import AppContext
from airlock.errors import BadRequest, PayloadTooLarge, Unauthorized
from airlock.web.client_address import ANONYMOUS_IP, resolve_client_ip


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def client_ip(request: Request) -> str:
    """The client's address (web.client_address has the rule)."""
    ctx: AppContext = request.app.state.ctx
    peer = request.client.host if request.client else ANONYMOUS_IP
    forwarded = request.headers.getlist("x-forwarded-for")
    return resolve_client_ip(peer, forwarded, ctx.settings.trusted_proxies)


ClientIp = Annotated[str, Depends(client_ip)]

BASIC_REFUSED = (
    "This registry accepts a password only to log in: run `npm login` and use the token "
    "it saves (or create one with `npm token create`)."
)


async def get_principal(request: Request, ctx: Ctx) -> Principal:
    """Resolve the Authorization header. A bad credential is a 401, never anonymous.

    Basic credentials (a password on every request) are refused without checking them:
    a password is accepted only by the login routes, which run argon2 under a throttle
    (docs/security.md, "Credentials")."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    ip = client_ip(request)
    otp = request.headers.get("npm-otp") or None
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    principal: Principal
    if not header:
        principal = Principal(user=None, token=None, via="anonymous", client_ip=ip, otp=otp)
    elif scheme.lower() == "bearer" and value.strip():
        user, scope = await ctx.tokens.authenticate(value.strip(), ip)
        principal = Principal(user=user, token=scope, via="bearer", client_ip=ip, otp=otp)
    elif scheme.lower() == "basic":
        raise Unauthorized(BASIC_REFUSED)
    else:
        raise Unauthorized("Unsupported authorization header.")
    request.state.principal = principal
    set_origin(principal)  # audit rows name this credential
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def require_user(principal: CurrentPrincipal) -> SignedIn:
    """The signed-in caller, or 401 (one check and one message for every route)."""
    if principal.user is None:
        raise Unauthorized("You must be logged in to do that. Run `npm login`.")
    return SignedIn.of(principal)


CurrentUser = Annotated[SignedIn, Depends(require_user)]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int = 1024 * 1024) -> Any:
    raw = await read_body(request, limit)
    if not raw.strip():
        raise BadRequest("Request body is empty; expected JSON.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from exc


async def read_json_object(request: Request, limit: int = 1024 * 1024) -> dict[str, Any]:
    body = await read_json(request, limit)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    return body
