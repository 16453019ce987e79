"""Server-side browser sessions (shared by every Airlock process through the database).

The cookie carries a random secret; the row is keyed by its keyed hash. Signing in (and
every step of it) issues a new secret and deletes the old row, so a session id planted
before sign-in is worthless afterwards. CSRF tokens are derived from the secret.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from airlock.accounts.models import User
from airlock.authz.principal import UserRef
from airlock.context import AppContext
from airlock.tokens.lookup import user_ref
from airlock.webauth.models import WebSession
from airlock.webauth.secrets import digest, looks_like_secret, new_secret

# Refresh last_seen_at at most this often (a write per page view would be wasteful).
_TOUCH_SECONDS = 60


@dataclass(frozen=True)
class SessionState:
    secret: str  # the cookie value
    handle: uuid.UUID
    user: UserRef | None
    pending_user_id: uuid.UUID | None
    csrf: str


@dataclass(frozen=True)
class SessionRow:
    handle: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    ip: str
    user_agent: str
    current: bool


def csrf_token(ctx: AppContext, secret: str) -> str:
    return digest(ctx.settings, "csrf", secret)


def csrf_ok(ctx: AppContext, state: SessionState | None, sent: str | None) -> bool:
    return (
        state is not None
        and isinstance(sent, str)
        and hmac.compare_digest(csrf_token(ctx, state.secret), sent)
    )


async def load(ctx: AppContext, secret: str | None) -> SessionState | None:
    if not secret or not looks_like_secret(secret):
        return None
    now = ctx.clock.now()
    key = digest(ctx.settings, "session", secret)
    async with ctx.db.read() as session:
        row = await session.get(WebSession, key)
        if row is None or row.expires_at <= now:
            return None
        user = await session.get(User, row.user_id) if row.user_id else None
        stale = now - row.last_seen_at > timedelta(seconds=_TOUCH_SECONDS)
        state = SessionState(
            secret=secret,
            handle=row.handle,
            user=user_ref(user) if user is not None else None,
            pending_user_id=row.pending_user_id,
            csrf=csrf_token(ctx, secret),
        )
    if stale:
        async with ctx.db.write() as session:
            row = await session.get(WebSession, key)
            if row is not None:
                row.last_seen_at = now
    return state


async def start(
    ctx: AppContext,
    *,
    ip: str,
    user_agent: str,
    user_id: uuid.UUID | None = None,
    pending_user_id: uuid.UUID | None = None,
    replaces: str | None = None,
) -> str:
    """A new session row (deleting `replaces`); returns the cookie secret."""
    secret = new_secret()
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        if replaces:
            await session.execute(
                delete(WebSession).where(WebSession.id == digest(ctx.settings, "session", replaces))
            )
        # Expired rows of anyone are swept here, which keeps the table small.
        await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        session.add(
            WebSession(
                id=digest(ctx.settings, "session", secret),
                user_id=user_id,
                pending_user_id=pending_user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.web_session_ttl_seconds),
                ip=ip[:64],
                user_agent=user_agent[:255],
            )
        )
    return secret


async def end(ctx: AppContext, secret: str) -> None:
    async with ctx.db.write() as session:
        await session.execute(
            delete(WebSession).where(WebSession.id == digest(ctx.settings, "session", secret))
        )


async def list_for(ctx: AppContext, user_id: uuid.UUID, current: uuid.UUID) -> list[SessionRow]:
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        rows = (
            await session.execute(
                select(WebSession)
                .where(WebSession.user_id == user_id, WebSession.expires_at > now)
                .order_by(WebSession.last_seen_at.desc())
            )
        ).scalars()
        return [
            SessionRow(
                r.handle, r.created_at, r.last_seen_at, r.ip, r.user_agent, r.handle == current
            )
            for r in rows
        ]


async def end_by_handle(ctx: AppContext, user_id: uuid.UUID, handle: uuid.UUID) -> bool:
    async with ctx.db.write() as session:
        result = await session.execute(
            delete(WebSession).where(WebSession.user_id == user_id, WebSession.handle == handle)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
