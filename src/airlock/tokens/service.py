"""Issuing and revoking tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from airlock.accounts.models import User
from airlock.audit.events import Event, record
from airlock.authz.principal import TokenKind, TokenPermission
from airlock.context import AppContext
from airlock.tokens.models import Token
from airlock.tokens.secrets import display_prefix, hash_token, new_token


async def issue_session_token(ctx: AppContext, user: User) -> str:
    """A login token: account-wide, read-write, expiring after the session lifetime."""
    secret = new_token()
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        session.add(
            Token(
                user_id=user.id,
                token_hash=hash_token(secret),
                display=display_prefix(secret),
                kind=TokenKind.SESSION.value,
                permission=TokenPermission.READ_WRITE.value,
                created_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.session_token_ttl_seconds),
            )
        )
        record(session, ctx.clock, Event.USER_LOGIN, actor=user.name)
    return secret


async def revoke_token_value(ctx: AppContext, user_id: uuid.UUID, secret: str) -> bool:
    """Revoke the caller's own token given its full value. True if one was revoked."""
    digest = hash_token(secret)
    async with ctx.db.write() as session:
        result = await session.execute(
            update(Token)
            .where(Token.token_hash == digest, Token.user_id == user_id, Token.revoked_at.is_(None))
            .values(revoked_at=ctx.clock.now())
        )
        revoked = bool(result.rowcount)  # type: ignore[attr-defined]
        if revoked:
            user = await session.get(User, user_id)
            record(session, ctx.clock, Event.TOKEN_REVOKED, actor=user.name if user else None)
    ctx.tokens.evict(digest)
    return revoked


async def find_token(ctx: AppContext, secret: str) -> Token | None:
    async with ctx.db.read() as session:
        return (
            await session.execute(select(Token).where(Token.token_hash == hash_token(secret)))
        ).scalar_one_or_none()
