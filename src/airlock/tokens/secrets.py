"""Token secrets in npm's own shape, stored as SHA-256 (fast to look up, useless if leaked).

`npm_` + 36 letters and digits: 30 random, then a 6-character base62 CRC32 checksum of
those 30 (as npmjs tokens since 2021). The npm CLI masks this shape as `npm_***` in its
logs, and secret scanners recognise it. Older `airlock_...` secrets keep working: lookup
is by hash, whatever the shape.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib

PREFIX = "npm_"
ALPHABET = string.digits + string.ascii_letters  # base62
RANDOM_CHARS = 30
CHECKSUM_CHARS = 6
# What listings show: the prefix and 6 characters, a plain prefix of the secret (so
# `npm token revoke <full secret>` matches it) too short to be masked or guessed from.
DISPLAY_CHARS = len(PREFIX) + 6


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


def new_token() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return PREFIX + body + checksum(body)


def is_well_formed(token: str) -> bool:
    """Whether `token` has npm's shape and a valid checksum (a typo check, not security)."""
    body = token.removeprefix(PREFIX)
    if not token.startswith(PREFIX) or len(body) != RANDOM_CHARS + CHECKSUM_CHARS:
        return False
    if any(c not in ALPHABET for c in body):
        return False
    return checksum(body[:RANDOM_CHARS]) == body[RANDOM_CHARS:]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """What token listings show: a plain prefix, so `npm token revoke <secret>` works."""
    return token[:DISPLAY_CHARS]
