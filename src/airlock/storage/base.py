"""The blob store protocol. Tarballs go here; metadata stays in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from airlock.errors import AirlockError


class BlobStore(Protocol):
    """Content storage by key. Writes are atomic: a reader sees the whole blob or nothing.

    Deleting is for packages/blobs.py alone (the one collector that is safe across
    processes); nothing else calls `delete`."""

    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically (replacing any blob there)."""
        ...

    def stream(self, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """Yield the blob's bytes in chunks. Raises BlobMissing if absent."""
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """Start reading: raises BlobMissing or StorageUnavailable BEFORE any byte is
        returned, so a response can still answer 404/503; then yields the chunks."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole blob (for small blobs and checks). Raises BlobMissing if absent."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; missing blobs are ignored."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for zero-copy serving, or None if the store is remote."""
        ...

    async def presigned_url(self, key: str, seconds: int) -> str | None:
        """A URL a client may GET the blob from directly for `seconds`, or None."""
        ...

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        """Remove partial writes (temp files) older than this; returns how many."""
        ...

    async def check(self) -> None:
        """Raise StorageUnavailable unless the store answers (readiness)."""
        ...


class BlobMissing(Exception):
    pass


class StorageUnavailable(AirlockError):
    """The blob store did not answer or refused us: the operator's problem, not the client's.

    `nothing_written`: the store answered with a refusal (access denied, no such bucket),
    so the request certainly had no effect. False when it did not answer (a timeout): a
    write may still have landed, and only the collector may clean up after it."""

    status = 503

    def __init__(self, message: str, *, nothing_written: bool = False) -> None:
        super().__init__(message)
        self.nothing_written = nothing_written


def tarball_key(sha512_hex: str) -> str:
    """Content-addressed: staged and published versions share one blob (approval copies nothing)."""
    return f"tarballs/{sha512_hex[:2]}/{sha512_hex}.tgz"
