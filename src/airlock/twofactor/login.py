"""Second factor at login: every enabled 2FA mode (auth-only and auth-and-writes) needs it."""

from __future__ import annotations

from airlock.accounts.models import User
from airlock.context import AppContext
from airlock.twofactor.service import is_enabled, verify_code


async def check_login_otp(ctx: AppContext, user: User, otp: str | None) -> None:
    """Raise OtpRequired when the account's 2FA mode needs a code at login and none is valid."""
    if is_enabled(user):
        await verify_code(ctx, user.id, otp)
