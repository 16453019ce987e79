"""Password hashing with argon2, run off the event loop (it is deliberately slow)."""

from __future__ import annotations

import anyio
import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        if password_hash.startswith(BCRYPT_PREFIXES):
            return _verify_bcrypt(password_hash, password)
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)


# bcrypt hashes come only from imports (Verdaccio's htpasswd); new hashes are always argon2.
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def _verify_bcrypt(password_hash: str, password: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # malformed hash, or a password bcrypt cannot take (> 72 bytes)
        return False


# A real hash to verify against when the user does not exist, so that timing does not
# reveal which user names are taken.
DUMMY_HASH = _hasher.hash("airlock-dummy-password")
