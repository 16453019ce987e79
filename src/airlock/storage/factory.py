from __future__ import annotations

from airlock.settings import Settings
from airlock.storage.base import BlobStore
from airlock.storage.filesystem import FilesystemBlobStore


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.storage == "filesystem":
        return FilesystemBlobStore(settings.data / "blobs")
    raise ValueError(f"unknown storage backend {settings.storage!r} (supported: filesystem)")
