"""The file list of a staged tarball (path and size), for the reviewer's stage page."""

from __future__ import annotations

import asyncio
import io
import tarfile
from dataclasses import dataclass

from airlock.context import AppContext
from airlock.stage.schemas import StageInfo
from airlock.storage.base import BlobMissing

MAX_FILES = 2000


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int


def _list(data: bytes) -> tuple[list[FileEntry], bool]:
    found: list[FileEntry] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if len(found) >= MAX_FILES:
                    return found, True
                path = member.name.split("/", 1)[1] if "/" in member.name else member.name
                found.append(FileEntry(path, member.size))
    except (tarfile.TarError, OSError, EOFError):
        return found, True
    found.sort(key=lambda f: f.path)
    return found, False


async def stage_files(ctx: AppContext, info: StageInfo) -> tuple[list[FileEntry], bool]:
    """The files and whether the list is incomplete (the tarball was checked at staging)."""
    if info.blob_key is None:
        return [], True
    try:
        data = await ctx.blobs.read(info.blob_key)
    except BlobMissing:
        return [], True
    # Decompression is CPU work: off the event loop.
    return await asyncio.to_thread(_list, data)
