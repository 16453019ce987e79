from __future__ import annotations

from airlock.settings import Settings
from airlock.storage.base import BlobStore
from airlock.storage.filesystem import FilesystemBlobStore


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.storage == "filesystem":
        return FilesystemBlobStore(settings.data / "blobs")
    if settings.storage == "s3":
        from airlock.storage.s3 import S3BlobStore

        return S3BlobStore(settings)
    raise ValueError(f"unknown storage backend {settings.storage!r} (supported: filesystem, s3)")
