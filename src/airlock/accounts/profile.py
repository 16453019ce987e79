"""The profile npm shows and edits (`npm profile get|set`), and password changes."""

from __future__ import annotations

import uuid
from typing import Any

from airlock.accounts.emails import checked_email
from airlock.accounts.models import User
from airlock.accounts.passwords import hash_password
from airlock.accounts.service import validate_password, verify_credentials
from airlock.authz.principal import Principal, TokenKind
from airlock.context import AppContext
from airlock.errors import BadRequest, Forbidden, NotFound, Unauthorized

# The keys `npm profile set` may change (besides password), with their length limits.
EDITABLE = {
    "email": 320,
    "fullname": 255,
    "homepage": 1024,
    "freenode": 255,
    "twitter": 255,
    "github": 255,
}


def require_account_credential(
    principal: Principal, what: str, *, allow_granular: bool = False
) -> uuid.UUID:
    """Account management (tokens, profile, 2FA) is for the account holder's own login:
    a password or a session token. Granular and trusted-publishing tokens are for packages
    (granular ones may still read, with `allow_granular`)."""
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to {what}. Run `npm login`.")
    token = principal.token
    if token is not None and token.kind is TokenKind.OIDC:
        raise Forbidden(f"A trusted-publishing token cannot {what}.")
    if token is not None and token.kind is TokenKind.GRANULAR and not allow_granular:
        raise Forbidden(f"A granular access token cannot {what}: use the session from `npm login`.")
    return principal.user.id


async def load(ctx: AppContext, user_id: uuid.UUID) -> User:
    async with ctx.db.read() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def validate_changes(body: dict[str, Any]) -> dict[str, str | None]:
    """The editable fields present in `body`; "" and null clear a field."""
    changes: dict[str, str | None] = {}
    for key, limit in EDITABLE.items():
        if key not in body:
            continue
        value = body[key]
        if value is None or value == "":
            changes[key] = None
        elif isinstance(value, str) and len(value) <= limit:
            changes[key] = value
        else:
            raise BadRequest(f"Invalid {key}: expected text of at most {limit} characters.")
    if changes.get("email"):
        changes["email"] = checked_email(str(changes["email"]))
    return changes


async def update(ctx: AppContext, user_id: uuid.UUID, changes: dict[str, str | None]) -> User:
    async with ctx.db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("User not found.")
        for key, value in changes.items():
            setattr(user, key, value)
        user.updated_at = ctx.clock.now()
    return user


def parse_password_change(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise BadRequest('Invalid password change: expected {"old": ..., "new": ...}.')
    old, new = value.get("old"), value.get("new")
    if not isinstance(old, str) or not isinstance(new, str):
        raise BadRequest("Both the old and the new password are required.")
    validate_password(new)
    return old, new


async def check_own_password(
    ctx: AppContext, user_id: uuid.UUID, password: object, client_ip: str
) -> None:
    await verify_credentials(ctx, password, client_ip, user_id=user_id)


async def set_password(ctx: AppContext, user_id: uuid.UUID, new: str) -> None:
    new_hash = await hash_password(new, ctx.settings.password_hash_concurrency)
    async with ctx.db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("User not found.")
        user.password_hash = new_hash
        user.updated_at = ctx.clock.now()
