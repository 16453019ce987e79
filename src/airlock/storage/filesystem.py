"""Blobs as files under a directory. Writes go to a temp file, are fsynced, then renamed.

Folders are 0700 and files 0600 (mkstemp's mode): tarballs of restricted packages must
not be readable by other users of the machine.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from airlock.storage.base import BlobMissing, StorageUnavailable

_CHUNK = 64 * 1024


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes) -> None:
        try:
            await anyio.to_thread.run_sync(self._put_sync, key, data)
        except OSError as exc:  # disk full, read-only or unwritable folder: the operator's
            # The temp file is gone and the rename did not happen: nothing was written.
            raise StorageUnavailable(
                f"Blob storage is unavailable (write: {exc.strerror or type(exc).__name__}); "
                "try again later.",
                nothing_written=True,
            ) from exc

    def _put_sync(self, key: str, data: bytes) -> None:
        path = self._path(key)
        for parent in reversed(path.relative_to(self.root).parents):
            (self.root / parent).mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def stream(self, key: str, chunk_size: int = _CHUNK) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = await anyio.open_file(path, "rb")
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc
        async with fh:
            while chunk := await fh.read(chunk_size):
                yield chunk

    async def open(self, key: str) -> AsyncIterator[bytes]:
        if not await self.exists(key):
            raise BlobMissing(key)
        return self.stream(key)

    async def read(self, key: str) -> bytes:
        try:
            return await anyio.Path(self._path(key)).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).is_file()

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def presigned_url(self, key: str, seconds: int) -> str | None:
        return None

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        return await anyio.to_thread.run_sync(self.sweep_temp_files, older_than_seconds)

    def sweep_temp_files(self, older_than_seconds: float = 0.0) -> int:
        """Remove temp files a crash left behind. Only old ones: another process sharing
        this folder may be writing a young one right now."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        for tmp in self.root.rglob(".tmp-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink(missing_ok=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    async def check(self) -> None:
        if not await anyio.Path(self.root).is_dir():
            raise StorageUnavailable(f"The blob folder {self.root} is missing.")
