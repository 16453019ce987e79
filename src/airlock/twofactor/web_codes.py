"""Web-issued second-factor codes: one browser ceremony (TOTP or passkey) mints a code
bound to one account, one verb and explicit targets:

- a stage decision: verb approve|reject, targets = the ticked stage ids (a batch);
- any other write that needs a second factor: verb = the action or purpose (publish,
  manage, govern, account, credentials), target = the package name or "account", and
  `action` = the exact action in words ("Publish pkg@1.0.0"), which must match too.

The code is what npm's doneUrl hands back and what `--otp` / pnpm's OtpSession send with
each request. Each (code, target) pair works once, within WEB_CODE_SECONDS; any other
target, verb, action or account is refused. Only a keyed hash of the code is stored.
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
DECISIONS = ("approve", "reject")
# Writes other than stage decisions (authz Action / second_factor Purpose, in short).
WRITE_VERBS = ("publish", "manage", "govern", "account", "credentials")
VERBS = DECISIONS + WRITE_VERBS
ACCOUNT = "account"  # the target of account and credential changes
ACTION_LENGTH = 300


class WebCode(Base):
    __tablename__ = "web_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    verb: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(255))
    # For writes other than stage decisions: the exact action in words it was minted for.
    action: Mapped[str | None] = mapped_column(String(ACTION_LENGTH))
    batch_id: Mapped[uuid.UUID]
    # How the ceremony was done: "totp", "recovery" or "passkey" (audited with each use).
    proof: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Target:
    """What a second factor is being asked for: a decision on one stage, or one write."""

    verb: str  # one of VERBS
    ref: str  # the stage id, the package name, or ACCOUNT
    # The action in words, shown on the authUrl page and bound into the code (writes only;
    # a stage decision is described from the stage itself).
    what: str | None = None

    @property
    def is_decision(self) -> bool:
        return self.verb in DECISIONS


@dataclass(frozen=True)
class Minted:
    code: str
    batch_id: uuid.UUID
    expires_at: datetime


def is_web_code(code: str) -> bool:
    value = code.replace(" ", "")
    return len(value) == WEB_CODE_DIGITS and value.isdigit()


async def mint(
    ctx: AppContext,
    user_id: uuid.UUID,
    verb: str,
    targets: list[str],
    proof: str,
    action: str | None = None,
) -> Minted:
    """A fresh code for exactly `targets` (call only after a verified ceremony); a write's
    code also for exactly `action`."""
    assert verb in VERBS and targets
    assert (action is None) == (verb in DECISIONS)
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
                action=action,
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
        raise InvalidOtp("That code was issued in the browser for another action.")
    thing = "staged version" if target.is_decision else "action"
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
        if row is None or (not target.is_decision and row.action != target.what):
            if target.is_decision:
                raise InvalidOtp(f"That code was not issued to {target.verb} this staged version.")
            raise InvalidOtp(f"That code was not issued for this action ({target.what}).")
        if row.used_at is not None:
            raise InvalidOtp(f"That code was already used for this {thing}.")
        if row.expires_at <= now:
            raise InvalidOtp("That code has expired (codes from the browser last 5 minutes).")
        # Conditional: two concurrent requests with one code, exactly one wins.
        claimed = await session.execute(
            update(WebCode)
            .where(WebCode.id == row.id, WebCode.used_at.is_(None))
            .values(used_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            raise InvalidOtp(f"That code was already used for this {thing}.")
        if target.is_decision:
            about = {"stage_id": target.ref, "decision": target.verb}
        else:
            about = {"verb": target.verb, "action": target.what or ""}
            if target.ref != ACCOUNT:
                about["package"] = target.ref
        record(
            session,
            ctx.clock,
            Event.WEB_CODE_USED,
            actor=actor,
            batch_id=str(row.batch_id),
            proof=row.proof,
            **about,
        )
