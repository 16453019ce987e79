"""Reading an uploaded tarball with bounded work, whatever its bytes claim.

CPython's tarfile alone is not enough for hostile input: it reads a GNU long-name or pax
header payload wholly into memory before anyone can look at its size, and it decompresses
and skips members of unknown types without counting them. So the gzip stream sits behind
a reader that counts every decompressed byte (headers and skipped data too) and stops at
a hard limit, the archive is read as a stream (one pass, nothing seeks back), and each
header is checked before tarfile processes it: only files, directories, symlinks and
small metadata headers are accepted.

What npm installs is the archive with its first path component stripped (pacote
extracts with `strip: 1`), so the facts returned here are about those stripped paths.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from dataclasses import dataclass

from airlock.errors import PayloadTooLarge
from airlock.packages.errors import InvalidPackage

# A GNU long name or a pax header is a path and a few keywords: a few KiB at most.
MAX_HEADER_PAYLOAD = 64 * 1024
_CHUNK = 64 * 1024
_FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE})
_PLAIN_TYPES = _FILE_TYPES | {tarfile.DIRTYPE, tarfile.SYMTYPE}
_META_TYPES = frozenset(
    {
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    }
)


@dataclass(frozen=True)
class TarballContents:
    package_json: bytes
    # Paths of regular files as npm installs them (first component stripped).
    files: frozenset[str]
    # Every installed path that is not a directory (files and symlinks).
    entries: frozenset[str]
    file_count: int
    unpacked_size: int


class _CountingReader:
    """Decompressed bytes of a gzip stream, refusing once more than `limit` came out."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._gzip = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
        self._limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        # tarfile's stream mode asks for a record at a time; never inflate more than that.
        chunk = self._gzip.read(min(size, _CHUNK) if size >= 0 else _CHUNK)
        self.count += len(chunk)
        if self.count > self._limit:
            raise PayloadTooLarge(
                f"The tarball unpacks to more than the limit of {self._limit} bytes."
            )
        return chunk


class _CheckedTarInfo(tarfile.TarInfo):
    """A header that is refused before tarfile reads any payload it announces."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _META_TYPES:
            if self.size > MAX_HEADER_PAYLOAD:
                raise InvalidPackage(
                    f"The tarball has a {self.size}-byte long-name or pax header; at most "
                    f"{MAX_HEADER_PAYLOAD} bytes are accepted."
                )
        elif self.type not in _PLAIN_TYPES:
            raise InvalidPackage(
                f"The tarball member {self.name[:200]!r} has type {self.type!r}; only files, "
                "directories and symbolic links are accepted."
            )
        member: tarfile.TarInfo = super()._proc_member(tarfile_)  # type: ignore[misc]
        return member


def read_tarball(data: bytes, *, unpacked_limit: int, package_json_limit: int) -> TarballContents:
    """Scan a gzip tar once; raise InvalidPackage / PayloadTooLarge for anything odd."""
    reader = _CountingReader(data, unpacked_limit)
    package_json: bytes | None = None
    files: set[str] = set()
    entries: set[str] = set()
    count = unpacked = 0
    try:
        with tarfile.open(fileobj=reader, mode="r|", tarinfo=_CheckedTarInfo) as tar:  # type: ignore[call-overload]
            for member in tar:
                path = installed_path(member.name)
                if member.isdir() or path is None:
                    continue
                entries.add(path)
                if path == "package.json":
                    if package_json is not None or not member.isfile():
                        raise InvalidPackage(
                            "The tarball must hold exactly one package.json file at its top."
                        )
                    package_json = _read_member(tar, member, package_json_limit)
                if member.isfile():
                    files.add(path)
                    count += 1
                    unpacked += member.size
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidPackage(f"The tarball is not a valid gzip tar archive: {exc}") from exc
    if package_json is None:
        raise InvalidPackage("The tarball has no package/package.json.")
    return TarballContents(
        package_json=package_json,
        files=frozenset(files),
        entries=frozenset(entries),
        file_count=count,
        unpacked_size=unpacked,
    )


def installed_path(name: str) -> str | None:
    """The path npm writes a member to (first component stripped), or None for the root."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise InvalidPackage(f"The tarball member {name[:200]!r} points outside the package.")
    if len(parts) < 2:
        return None
    return "/".join(parts[1:])


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if member.size > limit:
        raise InvalidPackage(
            f"package.json in the tarball is {member.size} bytes; at most {limit} are accepted."
        )
    fh = tar.extractfile(member)
    if fh is None:
        raise InvalidPackage("package/package.json in the tarball cannot be read.")
    return fh.read()
