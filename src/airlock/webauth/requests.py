"""npm's web flows: `npm login` (loginUrl + doneUrl) and web 2FA (authUrl + doneUrl).

A request is created by the CLI's call, answered in the browser (a login token, or a web
code from twofactor.web_codes), and handed to the doneUrl poller exactly once:
pending -> ready -> taken. The answer is encrypted at rest until then and deleted after.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update

from airlock.context import AppContext
from airlock.twofactor import encryption
from airlock.twofactor.web_codes import Target
from airlock.webauth.models import WebAuthRequest
from airlock.webauth.secrets import digest, looks_like_secret, new_secret

LOGIN_KINDS = ("login", "adduser")


@dataclass(frozen=True)
class Created:
    auth_secret: str  # in the browser URL (loginUrl / authUrl)
    done_secret: str  # in the doneUrl


@dataclass(frozen=True)
class RequestView:
    id: uuid.UUID
    kind: str
    user_id: uuid.UUID | None
    target: Target | None
    state: str
    expired: bool


class Poll(StrEnum):
    PENDING = "pending"
    READY = "ready"
    TAKEN = "taken"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


async def create(
    ctx: AppContext,
    kind: str,
    user_id: uuid.UUID | None = None,
    target: Target | None = None,
) -> Created:
    auth_secret, done_secret = new_secret(), new_secret()
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        session.add(
            WebAuthRequest(
                auth_hash=digest(ctx.settings, "web-auth", auth_secret),
                done_hash=digest(ctx.settings, "web-done", done_secret),
                kind=target.verb if target is not None else kind,
                user_id=user_id,
                target=target.ref if target is not None else None,
                action=target.what if target is not None else None,
                state="pending",
                created_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.web_auth_request_seconds),
            )
        )
    return Created(auth_secret, done_secret)


async def find(ctx: AppContext, auth_secret: str) -> RequestView | None:
    if not looks_like_secret(auth_secret):
        return None
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(WebAuthRequest).where(
                    WebAuthRequest.auth_hash == digest(ctx.settings, "web-auth", auth_secret)
                )
            )
        ).scalar_one_or_none()
    if row is None:
        return None
    target = Target(row.kind, row.target, row.action) if row.target is not None else None
    return RequestView(
        row.id, row.kind, row.user_id, target, row.state, row.expires_at <= ctx.clock.now()
    )


async def answer(ctx: AppContext, request_id: uuid.UUID, user_id: uuid.UUID, result: str) -> bool:
    """Store the answer for the poller; False if the request is no longer pending."""
    async with ctx.db.write() as session:
        done = await session.execute(
            update(WebAuthRequest)
            .where(
                WebAuthRequest.id == request_id,
                WebAuthRequest.state == "pending",
                WebAuthRequest.expires_at > ctx.clock.now(),
            )
            .values(
                state="ready",
                user_id=user_id,
                result_enc=encryption.encrypt(ctx.settings, result),
            )
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


async def poll(ctx: AppContext, done_secret: str) -> tuple[Poll, str | None]:
    """What the doneUrl answers; READY hands the result over and forgets it."""
    if not looks_like_secret(done_secret):
        return Poll.UNKNOWN, None
    key = digest(ctx.settings, "web-done", done_secret)
    async with ctx.db.write() as session:
        row = (
            await session.execute(
                select(WebAuthRequest).where(WebAuthRequest.done_hash == key).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            return Poll.UNKNOWN, None
        if row.state == "taken":
            return Poll.TAKEN, None
        if row.state == "pending":
            if row.expires_at <= ctx.clock.now():
                return Poll.EXPIRED, None
            return Poll.PENDING, None
        assert row.result_enc is not None
        result = encryption.decrypt(ctx.settings, row.result_enc)
        row.state, row.result_enc = "taken", None
        return Poll.READY, result
