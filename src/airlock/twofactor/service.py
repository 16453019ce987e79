"""Two-factor policy around the pure TOTP helpers: verification with replay protection and
lockout, enrolment, recovery codes, disabling.

Failed attempts are committed in their own transaction before the error is raised, so a
refused code still counts towards the lockout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.accounts.models import RecoveryCode, User
from airlock.accounts.service import verify_credentials
from airlock.audit.events import Event, record
from airlock.context import AppContext
from airlock.errors import AirlockError, BadRequest, NotFound
from airlock.twofactor import encryption, totp
from airlock.twofactor.errors import (
    InvalidOtp,
    OtpLocked,
    OtpMissing,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
)
from airlock.twofactor.models import OtpLockout

MODES = ("auth-only", "auth-and-writes")
RECOVERY_CODES = 10
ISSUER = "Airlock"
# The credential name of a password (login routes, enrolment): one counter per account.
PASSWORD = "password"


def hash_recovery_code(code: str) -> str:
    # Recovery codes carry 256 random bits, so a fast hash cannot be brute-forced.
    return hashlib.sha256(code.encode()).hexdigest()


def is_enabled(user: User) -> bool:
    return bool(user.tfa_mode) and not user.tfa_pending and user.totp_secret_enc is not None


async def verify_code(
    ctx: AppContext, user_id: uuid.UUID, code: str | None, credential: str = PASSWORD
) -> None:
    """Accept `code` (TOTP or recovery code) once per account, or raise OtpRequired /
    OtpLocked.

    Strictly single use (RFC 6238 section 5.2): a code accepted once is refused afterwards,
    whoever sends it. Wrong codes count against `credential` (a token id, or PASSWORD),
    so a stolen token cannot lock its owner's other credentials out; a correct recovery
    code is checked even while that credential is locked, and clears the lock.
    """
    if code is None or not code.strip():
        raise OtpMissing()
    failure: AirlockError | None
    async with ctx.db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None or not is_enabled(user):
            raise TwoFactorNotEnabled("Two-factor authentication is not enabled on this account.")
        lock = await _lockout(session, user_id, credential)
        failure = await _check(ctx, session, user, lock, totp.normalise(code))
    if failure is not None:
        raise failure


async def _lockout(session: AsyncSession, user_id: uuid.UUID, credential: str) -> OtpLockout:
    found = (
        await session.execute(
            select(OtpLockout).where(
                OtpLockout.user_id == user_id, OtpLockout.credential == credential
            )
        )
    ).scalar_one_or_none()
    if found is None:
        found = OtpLockout(user_id=user_id, credential=credential, failures=0)
        session.add(found)
    return found


async def _check(
    ctx: AppContext, session: AsyncSession, user: User, lock: OtpLockout, code: str
) -> AirlockError | None:
    now = ctx.clock.now()
    locked = lock.locked_until is not None and lock.locked_until > now
    if locked and not totp.is_recovery_code(code):
        assert lock.locked_until is not None
        return OtpLocked(int((lock.locked_until - now).total_seconds()) or 1)
    reason = await _match(ctx, session, user, code)
    if reason is None:
        lock.failures = 0
        lock.locked_until = None
        return None
    lock.failures += 1
    if lock.failures >= ctx.settings.otp_max_failures:
        lock.failures = 0
        lock.locked_until = now + timedelta(seconds=ctx.settings.otp_lockout_seconds)
        record(session, ctx.clock, Event.OTP_LOCKED, actor=user.name, credential=lock.credential)
        return OtpLocked(ctx.settings.otp_lockout_seconds)
    return InvalidOtp(reason)


async def _match(ctx: AppContext, session: AsyncSession, user: User, code: str) -> str | None:
    """None if the code is accepted (and consumed); otherwise why it was refused."""
    if totp.is_totp_code(code):
        assert user.totp_secret_enc is not None
        secret = encryption.decrypt(ctx.settings, user.totp_secret_enc)
        step = totp.matching_step(secret, code, ctx.clock.now())
        if step is None:
            return "That one-time password is wrong or has expired."
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return "That one-time password was already used."
        user.totp_last_step = step
        return None
    if totp.is_recovery_code(code):
        return await _use_recovery_code(ctx, session, user, code)
    return "Malformed one-time password: expected 6 digits or a 64-character recovery code."


async def _use_recovery_code(
    ctx: AppContext, session: AsyncSession, user: User, code: str
) -> str | None:
    rows = (
        await session.execute(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
    ).scalars()
    wanted = hash_recovery_code(code)
    match = None
    for row in rows:
        if hmac.compare_digest(row.code_hash, wanted):
            match = row
    if match is None:
        return "That recovery code is wrong or was already used."
    match.used_at = ctx.clock.now()
    return None


async def _locked(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("User not found.")
    return user


# The caller's check of the second factor (authz.second_factor.require, which also takes
# browser-issued codes), run after the password; without one, a TOTP or recovery code.
Proof = Callable[[], Awaitable[None]]


async def _second_factor(
    ctx: AppContext, user_id: uuid.UUID, otp: str | None, credential: str, proof: Proof | None
) -> None:
    if proof is not None:
        await proof()
    else:
        await verify_code(ctx, user_id, otp, credential)


async def start_enrolment(
    ctx: AppContext,
    user_id: uuid.UUID,
    password: object,
    mode: str,
    otp: str | None,
    *,
    client_ip: str,
    credential: str = PASSWORD,
    proof: Proof | None = None,
) -> str | None:
    """Step 1 of `npm profile enable-2fa`: the otpauth URL to confirm, or None when an
    enabled account only switched mode (which needs a code)."""
    if mode not in MODES:
        raise BadRequest(f"Unknown two-factor mode {mode!r}: use auth-only or auth-and-writes.")
    user = await verify_credentials(ctx, password, client_ip, user_id=user_id)
    enabled, current = is_enabled(user), user.tfa_mode
    if enabled and current == mode:
        raise TwoFactorAlreadyEnabled(f"Two-factor authentication is already enabled ({mode}).")
    if enabled:
        await _second_factor(ctx, user_id, otp, credential, proof)
    secret = totp.new_secret()
    async with ctx.db.write() as session:
        user = await _locked(session, user_id)
        user.tfa_mode = mode
        user.updated_at = ctx.clock.now()
        if not enabled:
            user.tfa_pending = True
            user.totp_secret_enc = encryption.encrypt(ctx.settings, secret)
            user.totp_last_step = None
        name = user.name
    ctx.tokens.evict()
    return None if enabled else totp.provisioning_url(secret, name, ISSUER)


async def confirm_enrolment(ctx: AppContext, user_id: uuid.UUID, code: object) -> list[str]:
    """Step 2: the first code proves the authenticator works; returns recovery codes (once)."""
    if not isinstance(code, str) or not totp.is_totp_code(totp.normalise(code)):
        raise BadRequest("Expected the 6-digit code from your authenticator app.")
    codes = [secrets.token_hex(32) for _ in range(RECOVERY_CODES)]
    async with ctx.db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None or not user.tfa_pending or user.totp_secret_enc is None:
            raise TwoFactorNotEnabled(
                "No two-factor enrolment is pending: run `npm profile enable-2fa` first."
            )
        secret = encryption.decrypt(ctx.settings, user.totp_secret_enc)
        step = totp.matching_step(secret, totp.normalise(code), ctx.clock.now())
        if step is None:
            raise BadRequest(
                "That code does not match the secret: check your authenticator's clock and "
                "try again with the current code."
            )
        user.tfa_pending = False
        user.totp_last_step = step
        await session.execute(delete(OtpLockout).where(OtpLockout.user_id == user_id))
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        session.add_all(
            RecoveryCode(user_id=user_id, code_hash=hash_recovery_code(c)) for c in codes
        )
        record(session, ctx.clock, Event.TFA_ENABLED, actor=user.name, mode=user.tfa_mode)
    ctx.tokens.evict()
    return codes


async def disable(
    ctx: AppContext,
    user_id: uuid.UUID,
    password: object,
    otp: str | None,
    *,
    client_ip: str,
    credential: str = PASSWORD,
    proof: Proof | None = None,
) -> None:
    """`npm profile disable-2fa`: password and a code (a pending enrolment needs no code)."""
    user = await verify_credentials(ctx, password, client_ip, user_id=user_id)
    enabled, pending = is_enabled(user), user.tfa_pending
    if not enabled and not pending:
        raise TwoFactorNotEnabled("Two-factor authentication is not enabled on this account.")
    if enabled:
        await _second_factor(ctx, user_id, otp, credential, proof)
    async with ctx.db.write() as session:
        user = await _locked(session, user_id)
        user.tfa_mode = None
        user.tfa_pending = False
        user.totp_secret_enc = None
        user.totp_last_step = None
        user.updated_at = ctx.clock.now()
        await session.execute(delete(OtpLockout).where(OtpLockout.user_id == user_id))
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        if enabled:
            record(session, ctx.clock, Event.TFA_DISABLED, actor=user.name)
    ctx.tokens.evict()


async def rotate_secrets(ctx: AppContext) -> int:
    """Re-encrypt every stored TOTP secret with the current key (after adding a new
    AIRLOCK_SECRET_KEY and moving the old one to AIRLOCK_OLD_SECRET_KEYS)."""
    count = 0
    async with ctx.db.write() as session:
        users = (
            await session.execute(select(User).where(User.totp_secret_enc.is_not(None)))
        ).scalars()
        for user in users:
            assert user.totp_secret_enc is not None
            user.totp_secret_enc = encryption.reencrypt(ctx.settings, user.totp_secret_enc)
            count += 1
    return count
