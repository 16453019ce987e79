"""E-mail addresses on accounts: checked on sign-up and on profile changes.

The address is shown publicly (npm's prompt says so), so "not an email" must not get in.
Only the syntax is checked (email-validator, without DNS: registries often run where no
resolver answers, and a deliverability check would make sign-up depend on the network).
Reserved and special-use domains (`.local`, `.invalid`, `.test`, ...) are accepted: they
are well-formed, company networks use `.local` mail domains, and the shared benchmark
signs up as `bench@example.invalid`.
"""

from __future__ import annotations

import email_validator
from email_validator import EmailNotValidError, validate_email

from airlock.errors import BadRequest

MAX_EMAIL = 320
# email-validator documents this list as the caller's to change; empty = syntax only.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()


def checked_email(value: str) -> str:
    """`value` as a normalised address (domain lower-cased), or a 400 saying what is wrong."""
    if len(value) > MAX_EMAIL:
        raise BadRequest(f"Invalid e-mail address: at most {MAX_EMAIL} characters.")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadRequest(f"Invalid e-mail address {value!r}: {exc}") from exc
    return str(result.normalized)
