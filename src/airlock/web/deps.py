"""Request-scoped dependencies: the app context, the caller, and bounded JSON bodies."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from sqlalchemy import select

from airlock.accounts.models import User
from airlock.accounts.passwords import DUMMY_HASH, verify_password
from airlock.audit.origin import set_origin
from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import BadRequest, PayloadTooLarge, Unauthorized
from airlock.tokens.lookup import user_ref


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "0.0.0.0"  # noqa: S104


async def get_principal(request: Request, ctx: Ctx) -> Principal:
    """Resolve the Authorization header. A bad credential is a 401, never anonymous."""
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
    elif scheme.lower() == "basic" and value.strip():
        principal = await _basic(ctx, value.strip(), ip, otp)
    else:
        raise Unauthorized("Unsupported authorization header.")
    request.state.principal = principal
    set_origin(principal)  # audit rows name this credential
    return principal


async def _basic(ctx: AppContext, value: str, ip: str, otp: str | None) -> Principal:
    try:
        name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Malformed Basic credentials.", challenge="Basic") from exc
    async with ctx.db.read() as session:
        user = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
    ok = await verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not ok:
        raise Unauthorized("Incorrect username or password.", challenge="Basic")
    return Principal(user=user_ref(user), token=None, via="basic", client_ip=ip, otp=otp)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


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
