"""Issuing and revoking tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from airlock.accounts.models import User
from airlock.audit.events import Event, record
from airlock.authz.principal import TokenKind, TokenPermission
from airlock.context import AppContext
from airlock.tokens.models import Token
from airlock.tokens.requests import GranularSpec
from airlock.tokens.secrets import display_prefix, hash_token, new_token


@dataclass(frozen=True)
class Created:
    token: Token
    secret: str  # shown once, never stored


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


async def create_granular(ctx: AppContext, user_id: uuid.UUID, spec: GranularSpec) -> Created:
    """A granular access token. The caller has checked the password (and code)."""
    secret = new_token()
    now = ctx.clock.now()
    token = Token(
        user_id=user_id,
        token_hash=hash_token(secret),
        display=display_prefix(secret),
        kind=TokenKind.GRANULAR.value,
        name=spec.name,
        description=spec.description,
        permission=spec.permission.value,
        packages=list(spec.packages),
        scopes=list(spec.scopes),
        cidr=list(spec.cidr),
        bypass_2fa=spec.bypass_2fa,
        created_at=now,
        expires_at=now + timedelta(days=spec.expires_days),
    )
    async with ctx.db.write() as session:
        user = await session.get(User, user_id)
        session.add(token)
        await session.flush()
        record(
            session,
            ctx.clock,
            Event.TOKEN_CREATED,
            actor=user.name if user else None,
            key=token_key(token),
            permission=spec.permission.value,
            bypass_2fa=spec.bypass_2fa,
        )
    return Created(token=token, secret=secret)


async def list_tokens(
    ctx: AppContext, user_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[Token], int]:
    """The user's live tokens (not revoked, not expired), newest first, and the total."""
    live = (
        Token.user_id == user_id,
        Token.revoked_at.is_(None),
        or_(Token.expires_at.is_(None), Token.expires_at > ctx.clock.now()),
    )
    async with ctx.db.read() as session:
        total = (await session.execute(select(func.count()).where(*live))).scalar_one()
        rows = (
            await session.execute(
                select(Token)
                .where(*live)
                .order_by(Token.created_at.desc(), Token.id)
                .offset(offset)
                .limit(limit)
            )
        ).scalars()
        return list(rows), int(total)


def token_key(token: Token) -> str:
    """The `key` npm lists: the id as 32 hex digits. (A dashed UUID would be masked as
    `***` by npm in `npm token list --json/--parseable`.)"""
    return token.id.hex


async def revoke_by_reference(ctx: AppContext, user_id: uuid.UUID, ref: str) -> bool:
    """`npm token revoke` sends a key or the full token value; a unique key prefix of at
    least 6 characters (the short id npm shows) and the dashed UUID form work too."""
    ref = ref.strip()
    if ref.lower().startswith(("npm_", "airlock_")):
        return await revoke_token_value(ctx, user_id, ref)
    wanted = ref.lower().replace("-", "")
    if len(wanted) < 6 or any(c not in "0123456789abcdef" for c in wanted):
        return await revoke_token_value(ctx, user_id, ref)
    async with ctx.db.write() as session:
        rows = (
            await session.execute(
                select(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None))
            )
        ).scalars()
        found = [t for t in rows if t.id.hex.startswith(wanted)]
        if len(found) != 1:
            return False
        token = found[0]
        token.revoked_at = ctx.clock.now()
        digest = token.token_hash
        user = await session.get(User, user_id)
        record(session, ctx.clock, Event.TOKEN_REVOKED, actor=user.name if user else None)
    ctx.tokens.evict(digest)
    return True


async def revoke_other_sessions(ctx: AppContext, user_id: uuid.UUID, keep: uuid.UUID | None) -> int:
    """After a password change: end every login session except the one making the change.
    Granular tokens stay (they were made deliberately, with the password)."""
    async with ctx.db.write() as session:
        conditions = [
            Token.user_id == user_id,
            Token.kind == TokenKind.SESSION.value,
            Token.revoked_at.is_(None),
        ]
        if keep is not None:
            conditions.append(Token.id != keep)
        result = await session.execute(
            update(Token).where(*conditions).values(revoked_at=ctx.clock.now())
        )
    ctx.tokens.evict()
    return int(result.rowcount)  # type: ignore[attr-defined]
