"""Tarballs and publish bodies a compromised CI might send (for the e2e and RSS tests)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
from typing import Any

from tests.support.packages import integrity, publish_body


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _padded(data: bytes) -> bytes:
    return data + bytes((512 - len(data) % 512) % 512)


def _package_json_block(name: str, version: str) -> bytes:
    data = f'{{"name":"{name}","version":"{version}"}}'.encode()
    info = tarfile.TarInfo("package/package.json")
    info.size = len(data)
    return info.tobuf(format=tarfile.GNU_FORMAT) + _padded(data)


def zeros_bomb(name: str, version: str, size: int = 2 * 1024**3) -> bytes:
    """A valid gzip tar with one member of `size` zero bytes, only ~2 MB compressed.

    gzip allows concatenated members, so one compressed 16 MiB block of zeros is repeated;
    a reader still has to inflate every byte of it.
    """
    block = 16 * 1024 * 1024
    assert size % block == 0
    header = tarfile.TarInfo("package/zeros.bin")
    header.size = size
    parts = [_gzip(_package_json_block(name, version) + header.tobuf(format=tarfile.GNU_FORMAT))]
    parts += [_gzip(bytes(block))] * (size // block)
    parts.append(_gzip(bytes(1024)))
    return b"".join(parts)


def long_name_bomb(name: str, version: str, size: int = 64 * 1024**2) -> bytes:
    """A GNU long-name header announcing (and carrying) a `size`-byte path."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        data = f'{{"name":"{name}","version":"{version}"}}'.encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        long = tarfile.TarInfo("package/" + "a" * size)
        long.size = 0
        tar.addfile(long, io.BytesIO(b""))
    return buf.getvalue()


def body_around(name: str, version: str, tarball: bytes, **claims: Any) -> dict[str, Any]:
    """A publish body for `tarball` whose manifest claims whatever `claims` say."""
    body = publish_body(name, version, tarball)
    manifest = body["versions"][version]
    manifest.update(claims)
    manifest["dist"]["integrity"] = integrity(tarball)
    manifest["dist"]["shasum"] = hashlib.sha1(tarball).hexdigest()
    att = next(iter(body["_attachments"].values()))
    att["data"] = base64.b64encode(tarball).decode()
    att["length"] = len(tarball)
    return body
