"""Opaque ids for cookies and capability URLs, and the keyed hashes stored for them.

Ids are 32 random bytes as hex: never dashed UUIDs, which npm masks to `***` in its
non-TTY output (shared/protocols.md §1.3). Only a keyed hash is stored, so a database
leak does not hand out live sessions or doneUrls.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from airlock.settings import Settings


def new_secret() -> str:
    return secrets.token_hex(32)


def digest(settings: Settings, purpose: str, value: str) -> str:
    key = hashlib.sha256(f"airlock/{purpose}/v1:{settings.secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def looks_like_secret(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
