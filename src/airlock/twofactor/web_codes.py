"""Web-issued second-factor codes: one browser ceremony (TOTP or passkey) mints a code
bound to one account, one decision (approve or reject) and an explicit list of stage ids.

The code is what npm's doneUrl hands back and what `--otp` / pnpm's OtpSession send with
each request. Each (code, stage id) pair works once, within WEB_CODE_SECONDS; any other
stage, decision or account is refused. Only a keyed hash of the code is stored.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from airlock.audit.events import Event, record
from airlock.context import AppContext
from airlock.db.base import Base, new_id
from airlock.twofactor.errors import InvalidOtp
from airlock.webauth.secrets import digest

WEB_CODE_DIGITS = 12
WEB_CODE_SECONDS = 300
VERBS = ("approve", "reject")


class WebCode(Base):
    __tablename__ = "web_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    verb: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[uuid.UUID]
    # How the ceremony was done: "totp", "recovery" or "passkey" (audited with each use).
    proof: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Target:
    """What a second factor is being asked for: a decision on one stage."""

    verb: str  # approve | reject
    ref: str  # the stage id


@dataclass(frozen=True)
class Minted:
    code: str
    batch_id: uuid.UUID
    expires_at: datetime


def is_web_code(code: str) -> bool:
    value = code.replace(" ", "")
    return len(value) == WEB_CODE_DIGITS and value.isdigit()


async def mint(
    ctx: AppContext, user_id: uuid.UUID, verb: str, targets: list[str], proof: str
) -> Minted:
    """A fresh code for exactly `targets` (call only after a verified ceremony)."""
    assert verb in VERBS and targets
    code = "".join(secrets.choice("0123456789") for _ in range(WEB_CODE_DIGITS))
    now = ctx.clock.now()
    batch = new_id()
    expires = now + timedelta(seconds=WEB_CODE_SECONDS)
    hashed = digest(ctx.settings, "web-code", code)
    async with ctx.db.write() as session:
        session.add_all(
            WebCode(
                code_hash=hashed,
                user_id=user_id,
                verb=verb,
                target=t,
                batch_id=batch,
                proof=proof,
                created_at=now,
                expires_at=expires,
            )
            for t in dict.fromkeys(targets)
        )
    return Minted(code=code, batch_id=batch, expires_at=expires)


async def verify_web_code(
    ctx: AppContext, user_id: uuid.UUID, actor: str, target: Target | None, code: str
) -> None:
    """Accept `code` for `target` once, or raise InvalidOtp (npm then asks again)."""
    if target is None:
        raise InvalidOtp("That code was issued in the browser for specific staged versions.")
    now = ctx.clock.now()
    hashed = digest(ctx.settings, "web-code", code.replace(" ", ""))
    async with ctx.db.write() as session:
        row = (
            await session.execute(
                select(WebCode).where(
                    WebCode.code_hash == hashed,
                    WebCode.user_id == user_id,
                    WebCode.verb == target.verb,
                    WebCode.target == target.ref,
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise InvalidOtp(f"That code was not issued to {target.verb} this staged version.")
        if row.used_at is not None:
            raise InvalidOtp("That code was already used for this staged version.")
        if row.expires_at <= now:
            raise InvalidOtp("That code has expired (codes from the browser last 5 minutes).")
        # Conditional: two concurrent requests with one code, exactly one wins.
        claimed = await session.execute(
            update(WebCode)
            .where(WebCode.id == row.id, WebCode.used_at.is_(None))
            .values(used_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            raise InvalidOtp("That code was already used for this staged version.")
        record(
            session,
            ctx.clock,
            Event.WEB_CODE_USED,
            actor=actor,
            stage_id=target.ref,
            decision=target.verb,
            batch_id=str(row.batch_id),
            proof=row.proof,
        )
