"""Approval's integrity check hashes the blob in chunks, never holding it whole."""

from __future__ import annotations

import base64
import hashlib
import tracemalloc

from airlock.stage.integrity import blob_integrity, blob_matches
from airlock.storage.filesystem import FilesystemBlobStore

SIZE = 24 * 1024 * 1024


async def test_integrity_of_a_large_blob_is_computed_without_loading_it(tmp_path):
    store = FilesystemBlobStore(tmp_path / "blobs")
    path = store.local_path("tarballs/aa/big.tgz")
    path.parent.mkdir(parents=True)
    digest = hashlib.sha512()
    with path.open("wb") as fh:
        for i in range(SIZE // (1024 * 1024)):
            chunk = bytes([i % 251]) * (1024 * 1024)
            digest.update(chunk)
            fh.write(chunk)
    expected = "sha512-" + base64.b64encode(digest.digest()).decode()
    tracemalloc.start()
    try:
        actual = await blob_integrity(store, "tarballs/aa/big.tgz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert actual == expected
    assert peak < SIZE // 8, f"peak {peak} bytes while hashing a {SIZE}-byte blob"
    assert await blob_matches(store, "tarballs/aa/big.tgz", expected)
    assert not await blob_matches(store, "tarballs/aa/big.tgz", "sha512-AAAA")


async def test_a_missing_blob_never_matches(tmp_path):
    store = FilesystemBlobStore(tmp_path / "blobs")
    assert await blob_integrity(store, "tarballs/aa/none.tgz") is None
    assert not await blob_matches(store, "tarballs/aa/none.tgz", "sha512-AAAA")
    assert not await blob_matches(store, None, "sha512-AAAA")
