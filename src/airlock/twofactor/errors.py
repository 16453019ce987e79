"""Second-factor errors, as npm understands them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from airlock.errors import BadRequest, Conflict, Forbidden, OtpRequired, TooManyRequests

if TYPE_CHECKING:
    from airlock.twofactor.web_codes import Target

OTP_PROMPT = (
    "You must provide a one-time pass. Pass --otp=<code> from your authenticator app, "
    "or enter it when npm asks for it."
)


class OtpMissing(OtpRequired):
    """`user_id` and `target` (a web_codes.Target) let the web layer offer npm's web 2FA
    (authUrl/doneUrl) for exactly this decision."""

    def __init__(self, user_id: uuid.UUID | None = None, target: Target | None = None) -> None:
        super().__init__(OTP_PROMPT)
        self.user_id = user_id
        self.target = target


class InvalidOtp(OtpRequired):
    """A code was sent but refused. Still an OTP challenge, so npm on a terminal asks again."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} You must provide a one-time pass that has not been used yet.")


class OtpLocked(TooManyRequests):
    def __init__(self, seconds: int) -> None:
        minutes = max(1, (seconds + 59) // 60)
        super().__init__(
            "Too many wrong one-time passwords: two-factor attempts with this credential are "
            f"locked for {minutes} more minute(s). Try again later, or use a recovery code.",
            retry_after=seconds,
        )


class TwoFactorNeeded(Forbidden):
    """The action needs a second factor but the account has none to give."""


class TwoFactorAlreadyEnabled(Conflict):
    pass


class TwoFactorNotEnabled(BadRequest):
    pass
