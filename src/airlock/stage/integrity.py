"""Re-checking a staged blob at approval time without holding it in memory."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import anyio

from airlock.storage.base import BlobMissing, BlobStore

_CHUNK = 1024 * 1024


def _hash_file(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


async def blob_integrity(blobs: BlobStore, key: str) -> str | None:
    """The SRI sha512 of a stored blob, or None if it is missing.

    Hashing runs in a worker thread, chunk by chunk, so a 50 MB tarball neither blocks the
    event loop nor sits in memory whole.
    """
    path = blobs.local_path(key)
    if path is not None:
        try:
            return await anyio.to_thread.run_sync(_hash_file, path)
        except FileNotFoundError:
            return None
    digest = hashlib.sha512()
    try:
        async for chunk in blobs.stream(key, _CHUNK):
            await anyio.to_thread.run_sync(digest.update, chunk)
    except BlobMissing:
        return None
    return "sha512-" + base64.b64encode(digest.digest()).decode()


async def blob_matches(blobs: BlobStore, key: str | None, integrity: str) -> bool:
    if key is None:
        return False
    actual = await blob_integrity(blobs, key)
    return actual is not None and hmac.compare_digest(actual, integrity)
