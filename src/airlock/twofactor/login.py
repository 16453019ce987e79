"""Second factor at login (filled in by the two-factor work)."""

from __future__ import annotations

from typing import Any


async def check_login_otp(ctx: Any, user: Any, otp: str | None) -> None:
    """Raise OtpRequired when the account's 2FA mode needs a code at login and none is valid."""
    return None
