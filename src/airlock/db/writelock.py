"""One SQLite writer at a time across processes, queued by the kernel instead of by polling.

SQLite lets one connection write at a time. A second process that finds the write lock
taken waits in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and
retries: with `airlock serve --workers 2` and concurrent publishes, a worker regularly slept
long after the other had committed. An exclusive `flock` on a file next to the database is
a fair queue that wakes the next waiter the moment the holder lets go, and the kernel
drops it when a holder dies (kill -9 included), so a crash never leaves it taken.

Every `Database.write` on SQLite takes it (after the per-process asyncio lock, so each
process has at most one waiter), then runs `BEGIN IMMEDIATE`, which then finds the
database free. Other programs writing the file (the sqlite3 shell) do not take it; SQLite's
own lock still keeps them correct, only slower.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


class FileWriteLock:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._held = False

    def _open(self) -> int:
        # One open file per process: a descriptor inherited through fork would share its
        # flock with the parent, and the two would not exclude each other.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            self._held = False
        return self._fd

    def _wait(self, fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Set in the thread, so a caller cancelled while this waited still releases it.
        self._held = True

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the lock for the body. Callers are serialised within the process already
        (one flock per open file: a second holder in this process would not wait)."""
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._held = True
            except BlockingIOError:
                # Another process writes: wait in a thread, the event loop keeps serving.
                # Not abandoned on cancellation, so the lock is never taken by nobody.
                await anyio.to_thread.run_sync(self._wait, fd)
            yield
        finally:
            if self._held:
                self._held = False
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
