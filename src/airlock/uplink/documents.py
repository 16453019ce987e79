"""Preprocessing an uplink packument once, when it is fetched (pure; runs in a thread).

The stored documents are what clients get byte for byte: tarball links point at Airlock,
`dist.integrity` is kept untouched (the downloaded bytes are checked against it), and
Verdaccio/CouchDB bookkeeping fields are dropped. Requests never parse or copy them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from airlock.packages.errors import InvalidPackage
from airlock.packages.names import name_problem, tarball_filename, tarball_url, validate_version
from airlock.packages.packument import CORGI_FIELDS

_DROPPED = ("_attachments", "_uplinks", "_distfiles", "_rev")


class GarbageDocument(ValueError):
    """The uplink answered 200 with something that is not a packument of this name."""


@dataclass(frozen=True)
class UplinkVersionInfo:
    version: str
    filename: str
    integrity: str | None
    shasum: str | None


@dataclass(frozen=True)
class ProcessedPackument:
    full: bytes
    abbrev: bytes
    full_gz: bytes
    abbrev_gz: bytes
    etag: str
    versions: list[UplinkVersionInfo]


def process(raw: bytes, name: str, base_url: str) -> ProcessedPackument:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GarbageDocument(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("versions", {}), dict):
        raise GarbageDocument("not a packument")
    if doc.get("name", name) != name or name_problem(name) is not None:
        raise GarbageDocument(f"packument of {doc.get('name')!r}, not {name!r}")
    versions: dict[str, Any] = {}
    infos: list[UplinkVersionInfo] = []
    for number, manifest in doc.get("versions", {}).items():
        info = _version(name, number, manifest)
        if info is None:
            continue  # unusable entry: leave it out rather than serve a broken link
        versions[number] = {**manifest, "dist": {**manifest["dist"]}}
        versions[number]["dist"]["tarball"] = tarball_url(base_url, name, number)
        infos.append(info)
    raw_tags = doc.get("dist-tags")
    tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
    # A tag pointing at a removed version would make npm fail; drop it instead.
    tags = {t: v for t, v in tags.items() if isinstance(v, str) and v in versions}
    full = {k: v for k, v in doc.items() if k not in _DROPPED}
    full.update({"name": name, "versions": versions, "dist-tags": tags})
    raw_time = doc.get("time")
    time: dict[str, Any] = raw_time if isinstance(raw_time, dict) else {}
    abbrev: dict[str, Any] = {
        "name": name,
        "dist-tags": tags,
        "versions": {v: {k: d[k] for k in CORGI_FIELDS if k in d} for v, d in versions.items()},
    }
    if isinstance(time.get("modified"), str):
        abbrev["modified"] = time["modified"]
    full_bytes = orjson.dumps(full)
    abbrev_bytes = orjson.dumps(abbrev)
    return ProcessedPackument(
        full=full_bytes,
        abbrev=abbrev_bytes,
        full_gz=gzip.compress(full_bytes, compresslevel=6, mtime=0),
        abbrev_gz=gzip.compress(abbrev_bytes, compresslevel=6, mtime=0),
        etag=hashlib.sha256(full_bytes).hexdigest()[:40],
        versions=infos,
    )


def _version(name: str, number: Any, manifest: Any) -> UplinkVersionInfo | None:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("dist"), dict):
        return None
    try:
        validate_version(number)
    except InvalidPackage:
        return None
    dist = manifest["dist"]
    integrity = dist.get("integrity") if isinstance(dist.get("integrity"), str) else None
    shasum = dist.get("shasum") if isinstance(dist.get("shasum"), str) else None
    if integrity is None and shasum is None:
        return None  # nothing to check the bytes against: never cached, never served
    return UplinkVersionInfo(number, tarball_filename(name, number), integrity, shasum)


def matches_integrity(data: bytes, integrity: str | None, shasum: str | None) -> bool:
    """Whether `data` has the digest the packument promised (the strongest one given)."""
    if integrity:
        for algo in ("sha512", "sha384", "sha256", "sha1"):
            wanted = [
                part.split("-", 1)[1].split("?", 1)[0]
                for part in integrity.split()
                if part.startswith(algo + "-")
            ]
            if wanted:
                got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
                return got in wanted
    if shasum:
        return hashlib.sha1(data).hexdigest() == shasum.lower()  # noqa: S324 (npm's shasum)
    return False
