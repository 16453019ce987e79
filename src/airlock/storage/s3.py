"""Blobs in an S3-compatible bucket, through obstore (Rust object_store, async-native).

obstore was chosen by measurement against moto (scripts/bench_s3_clients.py, numbers in
docs/operations.md): it was the fastest for many small requests and on par for a 50 MB
blob, and it signs and does IO off the event loop without a thread pool.

Atomicity: a blob is one single-part PUT (no multipart upload that a crash could leave
half-done), which S3 makes visible all at once; reads stream in chunks. Every S3 failure
(bucket missing, access denied, timeout, connection refused) becomes StorageUnavailable,
a 503 with a message for the operator; the publish path writes blobs before rows, so a
failed put leaves no row behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import obstore
from obstore.exceptions import (
    BaseError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from airlock.settings import Settings

if TYPE_CHECKING:  # typed dicts that exist only in obstore's stubs
    from obstore.store import ClientConfig, S3Config
from airlock.storage.base import BlobMissing, StorageUnavailable

_CHUNK = 64 * 1024
# obstore raises its own errors and builtin ones (FileNotFoundError for a missing object,
# PermissionError, TimeoutError, ConnectionError are all OSError).
_ERRORS = (BaseError, OSError, RuntimeError)


class S3BlobStore:
    def __init__(self, settings: Settings) -> None:
        if not settings.s3_bucket:
            raise ValueError("storage = s3 needs s3_bucket (AIRLOCK_S3_BUCKET)")
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/")
        timeout = timedelta(seconds=settings.s3_timeout_seconds)
        client_options: ClientConfig = {"timeout": timeout, "connect_timeout": timeout}
        config: S3Config = {"region": settings.s3_region}
        endpoint = settings.s3_endpoint_url
        if endpoint:
            config["endpoint"] = endpoint
            # Path-style addressing: what MinIO, Ceph and most S3-compatible servers expect.
            config["virtual_hosted_style_request"] = False
            if endpoint.startswith("http://"):
                client_options["allow_http"] = True
        if settings.s3_access_key_id:
            config["access_key_id"] = settings.s3_access_key_id
            config["secret_access_key"] = settings.s3_secret_access_key or ""
        self.store = S3Store(
            self.bucket,
            config=config,
            client_options=client_options,
            retry_config={"max_retries": 2, "backoff": {}, "retry_timeout": timedelta(seconds=10)},
        )

    def _path(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, exc: Exception, what: str) -> NoReturn:
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError | PermissionError):
            reason = "access denied (check s3_access_key_id / s3_secret_access_key)"
        elif "NoSuchBucket" in str(exc) or "bucket does not exist" in str(exc).lower():
            reason = f"bucket {self.bucket!r} does not exist"
        else:
            reason = "the store did not answer in time or refused the request"
        raise StorageUnavailable(
            f"Blob storage is unavailable ({what}: {reason}); try again later."
        ) from exc

    async def put(self, key: str, data: bytes) -> None:
        try:
            await obstore.put_async(self.store, self._path(key), data, use_multipart=False)
        except _ERRORS as exc:
            self._fail(exc, "write")

    async def open(self, key: str) -> AsyncIterator[bytes]:
        try:
            result = await obstore.get_async(self.store, self._path(key))
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc
        except _ERRORS as exc:
            self._fail(exc, "read")
        return self._chunks(result.stream(min_chunk_size=_CHUNK))

    async def _chunks(self, stream: Any) -> AsyncIterator[bytes]:
        try:
            async for chunk in stream:
                yield bytes(chunk)
        except _ERRORS as exc:
            self._fail(exc, "read")

    async def stream(self, key: str, chunk_size: int = _CHUNK) -> AsyncIterator[bytes]:
        async for chunk in await self.open(key):
            yield chunk

    async def read(self, key: str) -> bytes:
        try:
            result = await obstore.get_async(self.store, self._path(key))
            return bytes(await result.bytes_async())
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc
        except _ERRORS as exc:
            self._fail(exc, "read")

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self.store, self._path(key))
        except FileNotFoundError:
            return False
        except _ERRORS as exc:
            self._fail(exc, "check")
        return True

    async def delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self.store, self._path(key))
        except FileNotFoundError:
            return
        except _ERRORS as exc:
            self._fail(exc, "delete")

    def local_path(self, key: str) -> Path | None:
        return None

    async def presigned_url(self, key: str, seconds: int) -> str | None:
        try:
            return await obstore.sign_async(
                self.store, "GET", self._path(key), timedelta(seconds=seconds)
            )
        except _ERRORS as exc:
            self._fail(exc, "sign")

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        # Single-part PUTs leave nothing partial behind in the bucket.
        return 0

    async def check(self) -> None:
        try:
            await obstore.list_with_delimiter_async(self.store, self.prefix or None)
        except _ERRORS as exc:
            self._fail(exc, "list")
