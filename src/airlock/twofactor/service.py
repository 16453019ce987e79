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
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.accounts.models import RecoveryCode, User
from airlock.accounts.passwords import verify_password
from airlock.audit.events import Event, record
from airlock.context import AppContext
from airlock.errors import AirlockError, BadRequest, NotFound, Unauthorized
from airlock.twofactor import encryption, totp
from airlock.twofactor.errors import (
    InvalidOtp,
    OtpLocked,
    OtpMissing,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
)

MODES = ("auth-only", "auth-and-writes")
RECOVERY_CODES = 10
# How long the credential that used a code may send it again: the TOTP window (3 steps).
REPEAT_SECONDS = totp.STEP_SECONDS * (2 * totp.VALID_WINDOW + 1)
ISSUER = "Airlock"


def hash_recovery_code(code: str) -> str:
    # Recovery codes carry 256 random bits, so a fast hash cannot be brute-forced. (Also
    # used to remember the last accepted code, which is only compared, never reversed.)
    return hashlib.sha256(code.encode()).hexdigest()


def is_enabled(user: User) -> bool:
    return bool(user.tfa_mode) and not user.tfa_pending and user.totp_secret_enc is not None


async def verify_code(
    ctx: AppContext, user_id: uuid.UUID, code: str | None, credential: str | None = None
) -> None:
    """Accept `code` (TOTP or recovery code) once, or raise OtpRequired / OtpLocked.

    `credential` identifies the token that sent it (None for a password): that token may
    repeat its code within REPEAT_SECONDS, as npm does within one command.
    """
    if code is None or not code.strip():
        raise OtpMissing()
    failure: AirlockError | None
    async with ctx.db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None or not is_enabled(user):
            raise TwoFactorNotEnabled("Two-factor authentication is not enabled on this account.")
        failure = await _check(ctx, session, user, totp.normalise(code), credential)
    if failure is not None:
        raise failure


def _is_repeat(ctx: AppContext, user: User, code: str, credential: str | None) -> bool:
    """The same credential sending the code it just had accepted (npm unpublish sends one
    code with its PUT and its DELETE)."""
    return (
        credential is not None
        and user.otp_last_credential == credential
        and user.otp_last_code_hash is not None
        and hmac.compare_digest(user.otp_last_code_hash, hash_recovery_code(code))
        and user.otp_last_used_at is not None
        and ctx.clock.now() - user.otp_last_used_at <= timedelta(seconds=REPEAT_SECONDS)
    )


async def _check(
    ctx: AppContext, session: AsyncSession, user: User, code: str, credential: str | None
) -> AirlockError | None:
    now = ctx.clock.now()
    if user.otp_locked_until is not None and user.otp_locked_until > now:
        return OtpLocked(int((user.otp_locked_until - now).total_seconds()))
    if _is_repeat(ctx, user, code, credential):
        return None
    reason = await _match(ctx, session, user, code)
    if reason is None:
        user.otp_failures = 0
        user.otp_locked_until = None
        user.otp_last_code_hash = hash_recovery_code(code)
        user.otp_last_credential = credential
        user.otp_last_used_at = now
        return None
    user.otp_failures += 1
    if user.otp_failures >= ctx.settings.otp_max_failures:
        user.otp_failures = 0
        user.otp_locked_until = now + timedelta(seconds=ctx.settings.otp_lockout_seconds)
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


async def _load_with_password(session: AsyncSession, user_id: uuid.UUID, password: object) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    if not isinstance(password, str) or not await verify_password(user.password_hash, password):
        raise Unauthorized("Incorrect or missing password.", challenge="Basic")
    return user


async def _locked(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("User not found.")
    return user


async def start_enrolment(
    ctx: AppContext, user_id: uuid.UUID, password: object, mode: str, otp: str | None
) -> str | None:
    """Step 1 of `npm profile enable-2fa`: the otpauth URL to confirm, or None when an
    enabled account only switched mode (which needs a code)."""
    if mode not in MODES:
        raise BadRequest(f"Unknown two-factor mode {mode!r}: use auth-only or auth-and-writes.")
    async with ctx.db.read() as session:
        user = await _load_with_password(session, user_id, password)
        enabled, current = is_enabled(user), user.tfa_mode
    if enabled and current == mode:
        raise TwoFactorAlreadyEnabled(f"Two-factor authentication is already enabled ({mode}).")
    if enabled:
        await verify_code(ctx, user_id, otp)
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
        user.otp_failures = 0
        user.otp_locked_until = None
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        session.add_all(
            RecoveryCode(user_id=user_id, code_hash=hash_recovery_code(c)) for c in codes
        )
        record(session, ctx.clock, Event.TFA_ENABLED, actor=user.name, mode=user.tfa_mode)
    ctx.tokens.evict()
    return codes


async def disable(ctx: AppContext, user_id: uuid.UUID, password: object, otp: str | None) -> None:
    """`npm profile disable-2fa`: password and a code (a pending enrolment needs no code)."""
    async with ctx.db.read() as session:
        user = await _load_with_password(session, user_id, password)
        enabled, pending = is_enabled(user), user.tfa_pending
    if not enabled and not pending:
        raise TwoFactorNotEnabled("Two-factor authentication is not enabled on this account.")
    if enabled:
        await verify_code(ctx, user_id, otp)
    async with ctx.db.write() as session:
        user = await _locked(session, user_id)
        user.tfa_mode = None
        user.tfa_pending = False
        user.totp_secret_enc = None
        user.totp_last_step = None
        user.otp_last_code_hash = None
        user.otp_last_credential = None
        user.otp_failures = 0
        user.otp_locked_until = None
        user.updated_at = ctx.clock.now()
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        if enabled:
            record(session, ctx.clock, Event.TFA_DISABLED, actor=user.name)
    ctx.tokens.evict()


async def require_account_code(
    ctx: AppContext,
    user_id: uuid.UUID,
    otp: str | None,
    *,
    writes_only: bool,
    credential: str | None = None,
) -> None:
    """Account changes (tokens, profile) need a code when 2FA is on; with `writes_only`,
    only in auth-and-writes mode."""
    async with ctx.db.read() as session:
        user = await session.get(User, user_id)
    if user is None or not is_enabled(user):
        return
    if writes_only and user.tfa_mode != "auth-and-writes":
        return
    await verify_code(ctx, user_id, otp, credential)


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
