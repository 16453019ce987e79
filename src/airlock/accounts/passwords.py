"""Password hashing with argon2, run off the event loop and with bounded concurrency.

New hashes use argon2id with OWASP's second listed configuration (19 MiB, 2 passes, one
lane), which the OWASP Password Storage Cheat Sheet gives as an equal defence to its 46 MiB
one; argon2-cffi's default (RFC 9106's low-memory profile) costs 64 MiB per check. The
smaller figure matters because every concurrent login holds it: a burst of
`password_hash_concurrency` logins per worker costs 38 instead of 128 MiB, and one login
no longer lifts a worker's peak memory by 64 MiB. Existing hashes verify with the
parameters stored in them. At most `password_hash_concurrency` checks run at once per
process; callers beyond a short queue are refused (503) instead of piling up memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from airlock.errors import ServiceUnavailable

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
T = TypeVar("T")
# How many callers may wait per running slot before the server says it is busy.
QUEUE_PER_SLOT = 8


class _Gate:
    """A thread-side semaphore (works whatever event loop the caller runs on)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: threading.Semaphore | None = None
        self._size = 0
        self.pending = 0

    def enter(self, size: int) -> threading.Semaphore:
        with self._lock:
            if self._slots is None or self._size != size:
                self._slots, self._size = threading.BoundedSemaphore(size), size
            if self.pending >= size * (QUEUE_PER_SLOT + 1):
                raise ServiceUnavailable("Too many password checks at once; try again shortly.")
            self.pending += 1
            return self._slots

    def leave(self) -> None:
        with self._lock:
            self.pending -= 1


_gate = _Gate()


async def _run(concurrency: int, work: Callable[[], T]) -> T:
    slots = _gate.enter(concurrency)

    def guarded() -> T:
        with slots:
            return work()

    try:
        return await anyio.to_thread.run_sync(guarded)
    finally:
        _gate.leave()


async def hash_password(password: str, concurrency: int = 2) -> str:
    return await _run(concurrency, lambda: _hasher.hash(password))


async def verify_password(password_hash: str, password: str, concurrency: int = 2) -> bool:
    def _verify() -> bool:
        if password_hash.startswith(BCRYPT_PREFIXES):
            return _verify_bcrypt(password_hash, password)
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await _run(concurrency, _verify)


# bcrypt hashes come only from imports (Verdaccio's htpasswd); new hashes are always argon2.
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def _verify_bcrypt(password_hash: str, password: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # malformed hash, or a password bcrypt cannot take (> 72 bytes)
        return False


_dummy: list[str] = []


async def dummy_hash() -> str:
    """A real hash to verify against when the user does not exist, so that timing does not
    reveal which user names are taken. Made on first use (off the event loop), not at
    import: one hash costs 64 MiB, and every process (each worker, the CLI) imports this."""
    if not _dummy:
        made = await anyio.to_thread.run_sync(_hasher.hash, "airlock-dummy-password")
        if not _dummy:
            _dummy.append(made)
    return _dummy[0]
