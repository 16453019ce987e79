"""Pure TOTP helpers (RFC 6238, SHA-1, 6 digits, 30-second steps): no database, no policy.

Replay protection, lockout and recovery codes live in twofactor/service.py.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from urllib.parse import quote

import pyotp

STEP_SECONDS = 30
DIGITS = 6
# One step either side absorbs clock drift and typing time; two would double the
# window an intercepted code stays usable for.
VALID_WINDOW = 1

_CODE = re.compile(r"^\d{6}$")
_RECOVERY = re.compile(r"^[0-9a-f]{64}$")


def new_secret() -> str:
    """A random base32 secret (160 bits, as authenticator apps expect)."""
    return pyotp.random_base32(length=32)


def provisioning_url(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URL npm shows as a QR code; its `secret` parameter is also printed."""
    return (
        f"otpauth://totp/{quote(issuer)}:{quote(account)}"
        f"?secret={secret}&issuer={quote(issuer)}&algorithm=SHA1&digits={DIGITS}"
        f"&period={STEP_SECONDS}"
    )


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def code_at(secret: str, at: datetime) -> str:
    return code_at_step(secret, time_step(at))


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time-step `code` belongs to within the allowed window around `at`, or None."""
    current = time_step(at)
    found: int | None = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        # Check every candidate (no early exit) with a constant-time comparison.
        if hmac.compare_digest(code_at_step(secret, step), code) and found is None:
            found = step
    return found


def normalise(code: str) -> str:
    """npm lets people type spaces inside codes; recovery codes are compared lower-case."""
    return "".join(code.split()).lower()


def is_totp_code(code: str) -> bool:
    return bool(_CODE.match(code))


def is_recovery_code(code: str) -> bool:
    return bool(_RECOVERY.match(code))
