"""Parsing and validating the body of `npm publish` (and `npm stage publish`).

Everything npmjs checks on a publish is checked here, before any byte is stored: the
name, exactly one valid semver version, exactly one tarball attachment that decodes to
its declared length, matching sha512/sha1 digests, a gzip tar whose package/package.json
names the same package and version, the size limits, and the dist-tag. Publish and stage
share it, so whatever a stage accepted can also be approved (the same depth and size
limits the packument build needs are checked here, not at approval).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from airlock.errors import PayloadTooLarge
from airlock.packages.errors import InvalidPackage
from airlock.packages.manifest import parse_json, tarball_manifest
from airlock.packages.names import (
    scope_of,
    validate_name,
    validate_tag,
    validate_version,
)
from airlock.packages.tarball import read_tarball
from airlock.settings import Settings


@dataclass(frozen=True)
class Upload:
    name: str
    version: str
    # The version document from the tarball's package.json (packages/manifest.py), never
    # the body's copy: scripts, dependencies, bin and install hooks are what npm will run.
    manifest: dict[str, Any]
    tarball: bytes
    shasum: str
    integrity: str
    sha512_hex: str
    size: int
    file_count: int | None
    unpacked_size: int | None
    tag: str  # from dist-tags (default "latest"), validated
    access: str | None  # None | "public" | "restricted"
    provenance: bytes | None  # the .sigstore bundle JSON, if any


# Attachments up to this much base64 are decoded, hashed and unpacked on the event loop,
# with decompression capped at _INLINE_UNPACKED bytes (a few milliseconds at most, even
# for a gzip bomb): for a typical tarball that takes less than the hop to a worker thread
# and back (which waits for the GIL while the loop is busy). Larger ones, and small ones
# that unpack to more than the cap, are checked in a thread with the full limits.
_INLINE_ATTACHMENT_CHARS = 128 * 1024
_INLINE_UNPACKED = 4 * 1024 * 1024


class _TooBigForInline(Exception):
    pass


async def parse_publish_body(settings: Settings, url_name: str, body: dict[str, Any]) -> Upload:
    """Validate a publish body; the decoding and tar inspection of all but small
    tarballs run in a worker thread."""
    if _attachment_chars(body) <= _INLINE_ATTACHMENT_CHARS:
        try:
            return _parse(settings, url_name, body, inline_unpacked=_INLINE_UNPACKED)
        except _TooBigForInline:
            pass
    return await anyio.to_thread.run_sync(_parse, settings, url_name, body)


def _attachment_chars(body: dict[str, Any]) -> int:
    attachments = body.get("_attachments")
    if not isinstance(attachments, dict):
        return 0
    return sum(
        len(att["data"])
        for att in attachments.values()
        if isinstance(att, dict) and isinstance(att.get("data"), str)
    )


def _parse(
    settings: Settings, url_name: str, body: dict[str, Any], inline_unpacked: int | None = None
) -> Upload:
    limit = settings.max_tarball_bytes
    name = _check_name(url_name, body)
    version, manifest = _single_version(name, body)
    tag = _tag(body, version)
    access = _access(name, body.get("access"))
    tarball, provenance = _attachments(name, version, body.get("_attachments"), limit)
    bundle_limit = settings.max_provenance_bytes
    if provenance is not None and len(provenance) > bundle_limit:
        raise PayloadTooLarge(
            f"The provenance bundle is larger than the limit of {bundle_limit} bytes."
        )
    sha512 = hashlib.sha512(tarball).digest()
    sha1 = hashlib.sha1(tarball, usedforsecurity=False).hexdigest()
    integrity = "sha512-" + base64.b64encode(sha512).decode()
    _check_digests(manifest.get("dist"), integrity, sha1)
    unpacked_limit = settings.unpacked_limit
    capped = inline_unpacked is not None and inline_unpacked < unpacked_limit
    try:
        contents = read_tarball(
            tarball,
            unpacked_limit=min(unpacked_limit, inline_unpacked or unpacked_limit),
            package_json_limit=settings.max_manifest_bytes,
        )
    except PayloadTooLarge:
        if capped:
            raise _TooBigForInline from None  # decided in a thread, with the real limit
        raise
    stored = tarball_manifest(contents, name, version, manifest)
    _check_manifest_size(stored, settings.max_manifest_bytes)
    return Upload(
        name=name,
        version=version,
        manifest=stored,
        tarball=tarball,
        shasum=sha1,
        integrity=integrity,
        sha512_hex=sha512.hex(),
        size=len(tarball),
        file_count=contents.file_count,
        unpacked_size=contents.unpacked_size,
        tag=tag,
        access=access,
        provenance=provenance,
    )


def _check_name(url_name: str, body: dict[str, Any]) -> str:
    validate_name(url_name)
    for key in ("name", "_id"):
        value = body.get(key)
        if value is not None and value != url_name:
            raise InvalidPackage(f"The {key} in the body ({value!r}) does not match the URL.")
    return url_name


def _single_version(name: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    versions = body.get("versions")
    if not isinstance(versions, dict) or len(versions) != 1:
        raise InvalidPackage("A publish must contain exactly one version.")
    version, manifest = next(iter(versions.items()))
    validate_version(version)
    if not isinstance(manifest, dict):
        raise InvalidPackage(f"The manifest of version {version} must be an object.")
    if manifest.get("name") != name or manifest.get("version") != version:
        raise InvalidPackage(
            f"The manifest says {manifest.get('name')}@{manifest.get('version')}, "
            f"but the publish is for {name}@{version}."
        )
    return version, manifest


def _tag(body: dict[str, Any], version: str) -> str:
    tags = body.get("dist-tags")
    if tags in (None, {}):
        return "latest"
    if not isinstance(tags, dict) or len(tags) != 1:
        raise InvalidPackage("dist-tags must name exactly one tag for the new version.")
    tag, target = next(iter(tags.items()))
    validate_tag(tag)
    if target != version:
        raise InvalidPackage(f"dist-tag {tag} must point at the published version {version}.")
    return str(tag)


def _access(name: str, access: Any) -> str | None:
    if access is None:
        return None
    if access not in ("public", "restricted"):
        raise InvalidPackage(f"Invalid access {access!r}: use public or restricted.")
    if access == "restricted" and scope_of(name) is None:
        raise InvalidPackage("Unscoped packages cannot be restricted (private).")
    return str(access)


def _attachments(
    name: str, version: str, attachments: Any, limit: int
) -> tuple[bytes, bytes | None]:
    if not isinstance(attachments, dict) or not attachments:
        raise InvalidPackage("The publish has no tarball attachment (_attachments is missing).")
    provenance_key = f"{name}-{version}.sigstore"
    provenance: bytes | None = None
    tarballs: list[Any] = []
    for key, att in attachments.items():
        if not isinstance(att, dict):
            raise InvalidPackage(f"Attachment {key} must be an object.")
        if key == provenance_key:
            provenance = _provenance(att)
        elif key.endswith(".tgz"):
            tarballs.append(att)
        else:
            raise InvalidPackage(f"Unexpected attachment {key!r}.")
    if len(tarballs) != 1:
        raise InvalidPackage("A publish must carry exactly one tarball attachment.")
    return _decode_tarball(tarballs[0], limit), provenance


def _decode_tarball(att: dict[str, Any], limit: int) -> bytes:
    data, length = att.get("data"), att.get("length")
    if not isinstance(data, str) or not data:
        raise InvalidPackage("The tarball attachment has no data.")
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise InvalidPackage("The tarball attachment has no valid length.")
    if length > limit or len(data) > (limit // 3 + 1) * 4:
        raise PayloadTooLarge(f"The tarball is larger than the limit of {limit} bytes.")
    try:
        tarball = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidPackage("The tarball attachment is not valid base64.") from exc
    if len(tarball) != length:
        raise InvalidPackage(
            f"The tarball attachment decodes to {len(tarball)} bytes, but its length says {length}."
        )
    return tarball


def _provenance(att: dict[str, Any]) -> bytes:
    # npm sends the Sigstore bundle as plain JSON text here, not base64.
    data = att.get("data")
    if not isinstance(data, str):
        raise InvalidPackage("The provenance attachment has no data.")
    bundle = parse_json(data, "The provenance attachment (a JSON Sigstore bundle)")
    if not isinstance(bundle, dict):
        raise InvalidPackage("The provenance attachment is not a JSON Sigstore bundle.")
    return data.encode()


def _check_digests(dist: Any, integrity: str, sha1: str) -> None:
    if not isinstance(dist, dict):
        raise InvalidPackage("The version has no dist object with integrity and shasum.")
    claimed = dist.get("integrity")
    if not isinstance(claimed, str):
        raise InvalidPackage("dist.integrity is missing.")
    sha512s = [part for part in claimed.split() if part.startswith("sha512-")]
    if not sha512s or not all(_same(s.split("?")[0], integrity) for s in sha512s):
        raise InvalidPackage("dist.integrity does not match the tarball (sha512).")
    shasum = dist.get("shasum")
    if not isinstance(shasum, str) or not _same(shasum.lower(), sha1):
        raise InvalidPackage("dist.shasum does not match the tarball (sha1).")


def _same(claimed: str, actual: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str (a client could send any text).
    return hmac.compare_digest(claimed.encode(), actual.encode())


def _check_manifest_size(manifest: dict[str, Any], limit: int) -> None:
    # Every packument build carries every version's manifest: keep each one bounded.
    size = len(orjson.dumps(manifest))
    if size > limit:
        raise PayloadTooLarge(
            f"The version's manifest (package.json with its readme) is {size} bytes; at most "
            f"{limit} are accepted."
        )
