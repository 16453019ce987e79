"""Token secrets: random, shown once, stored as SHA-256 (fast to look up, useless if leaked)."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "airlock_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """What token listings show: a plain prefix, so `npm token revoke <prefix>` works."""
    return token[: len(PREFIX) + 6]
