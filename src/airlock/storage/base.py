"""The blob store protocol. Tarballs go here; metadata stays in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    """Content storage by key. Writes are atomic: a reader sees the whole blob or nothing."""

    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically (replacing any blob there)."""
        ...

    def stream(self, key: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """Yield the blob's bytes in chunks. Raises BlobMissing if absent."""
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


class BlobMissing(Exception):
    pass


def tarball_key(sha512_hex: str) -> str:
    """Content-addressed: staged and published versions share one blob (approval copies nothing)."""
    return f"tarballs/{sha512_hex[:2]}/{sha512_hex}.tgz"
