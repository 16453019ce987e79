"""TOTP secrets encrypted at rest with keys derived from settings.secret_key.

MultiFernet: the first key (secret_key) encrypts, every key (secret_key plus
old_secret_keys) decrypts, so a key can be rotated without locking anyone out.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from airlock.errors import AirlockError
from airlock.settings import Settings

if TYPE_CHECKING:  # imported where used: cryptography costs ~9 MiB per process
    from cryptography.fernet import Fernet, MultiFernet

_INFO = b"airlock/totp-secret/v1"


class SecretUndecryptable(AirlockError):
    status = 500

    def __init__(self) -> None:
        super().__init__(
            "A two-factor secret cannot be decrypted with the configured keys: was "
            "AIRLOCK_SECRET_KEY changed without keeping the old one in AIRLOCK_OLD_SECRET_KEYS?"
        )


def _fernet(key: str) -> Fernet:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    # HKDF turns any configured string into a proper 32-byte key, separated by purpose.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def cipher(settings: Settings) -> MultiFernet:
    from cryptography.fernet import MultiFernet

    keys = [settings.secret_key, *settings.old_secret_keys]
    return MultiFernet([_fernet(k) for k in keys])


def _invalid_token() -> type[Exception]:
    from cryptography.fernet import InvalidToken

    return InvalidToken


def encrypt(settings: Settings, secret: str) -> bytes:
    return cipher(settings).encrypt(secret.encode())


def decrypt(settings: Settings, blob: bytes) -> str:
    try:
        return cipher(settings).decrypt(blob).decode()
    except _invalid_token() as exc:
        raise SecretUndecryptable() from exc


def reencrypt(settings: Settings, blob: bytes) -> bytes:
    """The same secret encrypted with the current key (for `airlock rotate-secrets`)."""
    try:
        return cipher(settings).rotate(blob)
    except _invalid_token() as exc:
        raise SecretUndecryptable() from exc
