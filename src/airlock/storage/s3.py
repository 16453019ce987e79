"""Blobs in an S3-compatible bucket, through obstore (Rust object_store, async-native).

obstore was chosen by measurement against moto (scripts/bench_s3_clients.py, numbers in
docs/operations.md): it was the fastest for many small requests and on par for a 50 MB
blob, and it signs and does IO off the event loop without a thread pool. One client (one
connection pool) serves the whole process.

Atomicity: a blob is one single-part PUT (no multipart upload that a crash could leave
half-done), which S3 makes visible all at once; reads stream in chunks.

Failures, in this one place: every S3 failure (bucket missing, access denied, bad
credentials, timeout, connection refused) becomes StorageUnavailable, a 503 whose message
tells the operator what to fix and never carries a credential. `s3_timeout_seconds` bounds
each operation, retries included (an asyncio deadline around it, so a server that
trickles bytes cannot hold a request either); a tarball being streamed to a client is
bounded per read instead (a stalled S3 body fails after that long without data), since a
big tarball to a slow client may rightly take longer. The publish path writes blobs
before rows, so a failed put leaves no row behind.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

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

log = logging.getLogger("airlock.storage")

_CHUNK = 64 * 1024
# obstore raises its own errors and builtin ones (FileNotFoundError for a missing object,
# PermissionError, TimeoutError, ConnectionError are all OSError).
_ERRORS = (BaseError, OSError, RuntimeError)
# The longest a tarball may take to stream to a client (each read is bounded separately).
_STREAM_SECONDS = 3600.0
# S3 error codes that mean "these credentials are wrong", not "this key may not do that".
_CREDENTIAL_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
    }
)
_CODE = re.compile(r"<Code>([A-Za-z0-9.]+)</Code>")
_STATUS = re.compile(r"status(?: code)?:? (\d{3})")
# The permission each operation needs (docs/production.md lists them).
_ACTIONS = {
    "write": "s3:PutObject",
    "read": "s3:GetObject",
    "check": "s3:GetObject",
    "delete": "s3:DeleteObject",
    "list": "s3:ListBucket",
    "sign": "s3:GetObject",
}

T = TypeVar("T")


class S3BlobStore:
    def __init__(self, settings: Settings) -> None:
        if not settings.s3_bucket:
            raise ValueError("storage = s3 needs s3_bucket (AIRLOCK_S3_BUCKET)")
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/")
        self.timeout = settings.s3_timeout_seconds
        timeout = timedelta(seconds=self.timeout)
        client_options: ClientConfig = {
            "connect_timeout": timeout,
            # A stalled response (no byte for this long) fails; the overall limit is our
            # per-operation deadline, or _STREAM_SECONDS for a body being streamed.
            "read_timeout": timeout,
            "timeout": timedelta(seconds=max(_STREAM_SECONDS, self.timeout)),
        }
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
            # Quick failures (connection reset, 5xx) are retried within the deadline.
            retry_config={"max_retries": 2, "backoff": {}, "retry_timeout": timeout},
        )

    def _path(self, key: str) -> str:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _call(self, what: str, key: str, call: Callable[[], Awaitable[T]]) -> T:
        """One S3 operation within s3_timeout_seconds; FileNotFoundError passes through
        (a missing object), every other failure becomes StorageUnavailable."""
        try:
            async with asyncio.timeout(self.timeout):
                return await call()
        except FileNotFoundError as exc:
            # A missing bucket is a 404 too; HEAD has no body to tell, so `check` (a
            # listing) is what readiness asks.
            if what == "write" or "NoSuchBucket" in str(exc):
                self._fail(exc, what, key)
            raise
        except _ERRORS as exc:
            self._fail(exc, what, key)

    def _fail(self, exc: BaseException, what: str, key: str) -> NoReturn:
        """The one mapping of S3 failures to a 503 (and a log line for the operator)."""
        text = str(exc)
        code_match = _CODE.search(text)
        code = code_match.group(1) if code_match else None
        status_match = _STATUS.search(text)
        status = status_match.group(1) if status_match else None
        nothing_written = True  # S3 answered with a refusal: the request had no effect
        if code == "NoSuchBucket" or "bucket does not exist" in text.lower():
            reason = f"bucket {self.bucket!r} does not exist"
        elif code in _CREDENTIAL_CODES:
            reason = (
                f"the credentials were rejected ({code}): "
                "check s3_access_key_id and s3_secret_access_key"
            )
        elif (
            code == "AccessDenied"
            or status == "403"
            or isinstance(exc, PermissionDeniedError | UnauthenticatedError | PermissionError)
        ):
            reason = (
                f"access denied: the key's policy must allow {_ACTIONS[what]} on bucket "
                f"{self.bucket!r}, and s3_access_key_id / s3_secret_access_key must be right"
            )
        else:
            # No answer: a PUT may or may not have landed (reads and checks write nothing).
            nothing_written = what != "write"
            lowered = text.lower()
            # obstore's text names the kind of HTTP error ("kind: Connect", "kind: Timeout").
            if (
                isinstance(exc, TimeoutError)
                or "kind: timeout" in lowered
                or "timed out" in lowered
            ):
                reason = f"no answer within s3_timeout_seconds ({self.timeout:g} s)"
            elif "kind: connect" in lowered or "connection refused" in lowered:
                reason = "could not connect to the S3 endpoint"
            else:
                reason = f"the store failed the request ({code or status or type(exc).__name__})"
        # Never the exception text: it may quote request URLs and what was signed.
        log.warning(
            "S3 %s of %s failed: %s [%s]",
            what,
            key,
            reason,
            code or status or type(exc).__name__,
        )
        # `from None`: S3's error text (which a traceback would print) can quote the
        # access key id and the string that was signed.
        raise StorageUnavailable(
            f"Blob storage is unavailable ({what}: {reason}); try again later.",
            nothing_written=nothing_written,
        ) from None

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        await self._call(
            "write", key, lambda: obstore.put_async(self.store, path, data, use_multipart=False)
        )

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            result = await self._call("read", key, lambda: obstore.get_async(self.store, path))
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc
        return self._chunks(key, result.stream(min_chunk_size=_CHUNK))

    async def _chunks(self, key: str, stream: Any) -> AsyncIterator[bytes]:
        try:
            async for chunk in stream:
                yield bytes(chunk)
        except _ERRORS as exc:
            self._fail(exc, "read", key)

    async def stream(self, key: str, chunk_size: int = _CHUNK) -> AsyncIterator[bytes]:
        async for chunk in await self.open(key):
            yield chunk

    async def read(self, key: str) -> bytes:
        path = self._path(key)

        async def whole() -> bytes:
            result = await obstore.get_async(self.store, path)
            return bytes(await result.bytes_async())

        try:
            return await self._call("read", key, whole)
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            await self._call("check", key, lambda: obstore.head_async(self.store, path))
        except FileNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await self._call("delete", key, lambda: obstore.delete_async(self.store, path))
        except FileNotFoundError:
            return

    def local_path(self, key: str) -> Path | None:
        return None

    async def presigned_url(self, key: str, seconds: int) -> str | None:
        # Signed locally (no request to S3): a denial shows only when the client follows it.
        path = self._path(key)
        return await self._call(
            "sign",
            key,
            lambda: obstore.sign_async(self.store, "GET", path, timedelta(seconds=seconds)),
        )

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        # Single-part PUTs leave nothing partial behind in the bucket.
        return 0

    async def check(self) -> None:
        prefix = self.prefix or None
        await self._call(
            "list", prefix or "/", lambda: obstore.list_with_delimiter_async(self.store, prefix)
        )
