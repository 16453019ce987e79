"""What a stored tarball holds, read from its bytes: the package.json and one fact per file.

Both the risk signals and the diff work from this. The scan streams the gzip tar in a
worker thread (tarfile's "r|gz" mode, one member at a time) and looks at no more than
`SAMPLE` bytes of each file, so memory stays bounded whatever the archive holds; every
file is hashed whole, chunk by chunk. Facts are cached as JSON next to the blob (keyed by
the tarball's digest), so a page view does not re-read a 50 MB tarball.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tarfile
import tempfile
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio

from airlock.storage.base import BlobMissing, BlobStore

# Bytes of each file looked at for binary / minified / entropy / secret checks.
SAMPLE = 256 * 1024
# Files beyond this many are counted but not described (the scan says "truncated").
MAX_FILES = 20_000
_CHUNK = 64 * 1024
_MAX_PACKAGE_JSON = 1024 * 1024
# A line this long in a text file means generated (minified or obfuscated) code.
LONG_LINE = 1000
# Bits per byte over the sample; source code is ~4.5-5, base64/packed payloads ~6.
HIGH_ENTROPY = 5.6
_ENTROPY_MIN_BYTES = 512
ENTROPY_SAMPLE = 16 * 1024
_SECRETS = (
    ("npm token", re.compile(rb"\bnpm_[A-Za-z0-9]{36}\b")),
    ("private key", re.compile(rb"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
)
CACHE_VERSION = 1


class UnreadableTarball(Exception):
    """The stored blob is not a gzip tar (it was checked at upload; now it is damaged)."""


@dataclass(frozen=True)
class FileFact:
    path: str  # inside the package, without the leading "package/"
    size: int
    sha256: str
    binary: bool
    longest_line: int  # in the sample; 0 for binary files
    entropy: float  # bits per byte over the sample
    secrets: list[str] = field(default_factory=list)  # kinds of secret-looking content

    @property
    def generated(self) -> bool:
        """Minified or obfuscated-looking text."""
        if self.binary:
            return False
        return self.longest_line > LONG_LINE or (
            self.size >= _ENTROPY_MIN_BYTES and self.entropy > HIGH_ENTROPY
        )


@dataclass(frozen=True)
class TarballFacts:
    manifest: dict[str, Any]  # package/package.json from the tarball ({} if unreadable)
    files: dict[str, FileFact]
    file_count: int
    unpacked_size: int
    truncated: bool  # more than MAX_FILES files: the rest are counted only

    def to_json(self) -> bytes:
        body = {
            "v": CACHE_VERSION,
            "manifest": self.manifest,
            "files": [asdict(f) for f in self.files.values()],
            "file_count": self.file_count,
            "unpacked_size": self.unpacked_size,
            "truncated": self.truncated,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> TarballFacts | None:
        try:
            body = json.loads(raw)
            if body.get("v") != CACHE_VERSION:
                return None
            files = [FileFact(**f) for f in body["files"]]
            return cls(
                manifest=body["manifest"],
                files={f.path: f for f in files},
                file_count=int(body["file_count"]),
                unpacked_size=int(body["unpacked_size"]),
                truncated=bool(body["truncated"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def member_path(name: str) -> str | None:
    """A member's path inside the package ("package/lib/a.js" -> "lib/a.js")."""
    name = name.removeprefix("./")
    head, sep, rest = name.partition("/")
    if not sep or not rest:
        return None
    # npm packs everything under "package/"; some old tarballs use another top folder.
    del head
    return rest


def entropy(data: bytes) -> float:
    if not data:
        return 0.0
    total = len(data)
    return -sum(c / total * math.log2(c / total) for c in Counter(data).values())


def _is_binary(sample: bytes) -> bool:
    if b"\x00" in sample[:8192]:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start < len(sample) - 4
    return False


def _longest_line(sample: bytes) -> int:
    return max(map(len, sample.split(b"\n")), default=0)


def describe(path: str, size: int, sha256: str, sample: bytes) -> FileFact:
    binary = _is_binary(sample)
    found = [kind for kind, pattern in _SECRETS if pattern.search(sample)]
    return FileFact(
        path=path,
        size=size,
        sha256=sha256,
        binary=binary,
        longest_line=0 if binary else _longest_line(sample),
        entropy=round(entropy(sample[:ENTROPY_SAMPLE]), 3),
        secrets=found,
    )


def iter_members(fileobj: IO[bytes]) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo, str]]:
    """Regular files of a gzip tar stream, with their package-relative path."""
    try:
        with tarfile.open(fileobj=fileobj, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                path = member_path(member.name)
                if path is not None:
                    yield tar, member, path
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UnreadableTarball(str(exc)) from exc


def read_chunks(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    fh = tar.extractfile(member)
    if fh is None:
        return
    while chunk := fh.read(_CHUNK):
        yield chunk


def scan_file(path: Path) -> TarballFacts:
    """The facts of the tarball at `path` (runs in a worker thread)."""
    files: dict[str, FileFact] = {}
    manifest: dict[str, Any] = {}
    count = unpacked = 0
    with path.open("rb") as fh:
        for tar, member, inner in iter_members(fh):
            count += 1
            unpacked += member.size
            digest = hashlib.sha256()
            sample = bytearray()
            for chunk in read_chunks(tar, member):
                digest.update(chunk)
                if len(sample) < SAMPLE:
                    sample += chunk[: SAMPLE - len(sample)]
            if inner == "package.json" and member.size <= _MAX_PACKAGE_JSON:
                manifest = _manifest(bytes(sample)) or manifest
            if len(files) < MAX_FILES:
                files[inner] = describe(inner, member.size, digest.hexdigest(), bytes(sample))
    return TarballFacts(
        manifest=manifest,
        files=files,
        file_count=count,
        unpacked_size=unpacked,
        truncated=count > len(files),
    )


def _manifest(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@contextlib.asynccontextmanager
async def local_copy(blobs: BlobStore, key: str) -> AsyncIterator[Path]:
    """A filesystem path holding the blob: the store's own file, or a spooled temp copy."""
    path = blobs.local_path(key)
    if path is not None:
        if not await anyio.Path(path).exists():
            raise BlobMissing(key)
        yield path
        return
    fd, tmp = await anyio.to_thread.run_sync(
        lambda: tempfile.mkstemp(prefix="airlock-scan-", suffix=".tgz")
    )
    os.close(fd)
    try:
        async with await anyio.open_file(tmp, "wb") as out:
            async for chunk in blobs.stream(key, _CHUNK):
                await out.write(chunk)
        yield Path(tmp)
    finally:
        await anyio.Path(tmp).unlink(missing_ok=True)


def cache_key(blob_key: str) -> str:
    digest = hashlib.sha256(blob_key.encode()).hexdigest()
    return f"review/facts/{digest[:2]}/{digest}.v{CACHE_VERSION}.json"


async def facts(blobs: BlobStore, blob_key: str) -> TarballFacts:
    """The cached facts of a stored tarball, scanning it on first use."""
    cached_at = cache_key(blob_key)
    with contextlib.suppress(BlobMissing):
        cached = TarballFacts.from_json(await blobs.read(cached_at))
        if cached is not None:
            return cached
    async with local_copy(blobs, blob_key) as path:
        found = await anyio.to_thread.run_sync(scan_file, path)
    await blobs.put(cached_at, found.to_json())
    return found
