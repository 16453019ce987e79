"""Building the full and abbreviated ("corgi") packument documents.

Pure functions over plain snapshots of the rows, so the whole build (JSON encoding and
gzip included) can run in a worker thread. They run once per change, in the write
transaction; GET requests only serve the stored bytes.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import semver

from airlock.clock import iso
from airlock.packages.names import tarball_url

# npm/registry docs/responses/package-metadata.md: what an install needs, plus harmless extras.
CORGI_FIELDS = (
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "directories",
    "dist",
    "engines",
    "_hasShrinkwrap",
    "hasInstallScript",
    "cpu",
    "os",
    "libc",
    "funding",
    "license",
)
# Top-level fields copied from the latest version, as npmjs does.
_TOP_FIELDS = ("description", "keywords", "license", "homepage", "repository", "bugs", "author")
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"


@dataclass(frozen=True)
class VersionSnapshot:
    version: str
    manifest: dict[str, Any]
    shasum: str
    integrity: str
    file_count: int | None
    unpacked_size: int | None
    published_at: datetime
    deprecated: str | None
    npm_user: dict[str, Any] | None
    has_provenance: bool


@dataclass(frozen=True)
class PackageSnapshot:
    name: str
    rev: int
    created_at: datetime
    modified_at: datetime
    base_url: str
    maintainers: list[dict[str, Any]]  # [{name, email}]
    dist_tags: dict[str, str]
    versions: list[VersionSnapshot]  # published only, oldest first


@dataclass(frozen=True)
class BuiltPackument:
    full: bytes
    abbrev: bytes
    full_gz: bytes
    abbrev_gz: bytes
    etag: str
    rev: str


def build(snap: PackageSnapshot) -> BuiltPackument:
    """Encode both documents, their gzip forms and an ETag."""
    versions = {v.version: _version_doc(snap, v) for v in snap.versions}
    return _encode(snap, _full_doc(snap, versions), versions)


def append(snap: PackageSnapshot, added: VersionSnapshot, old_full: bytes) -> BuiltPackument | None:
    """The documents after one more version went live, from the stored full document
    instead of every version row (publishing version 5,001 must not cost 5,000 rebuilds).

    `snap.versions` holds only `added`. Gives None (the caller rebuilds everything) unless
    the result is exactly what `build` would produce: `latest` names a published version
    and `added` is the newest publish, so it comes last in the version order.
    """
    old = orjson.loads(old_full)
    versions: dict[str, dict[str, Any]] = old.get("versions") or {}
    times: dict[str, str] = old.get("time") or {}
    stamp = iso(added.published_at)
    if added.version in versions or any(
        stamp <= t for k, t in times.items() if k not in ("created", "modified")
    ):
        return None
    versions[added.version] = _version_doc(snap, added)
    latest = snap.dist_tags.get("latest")
    if latest not in versions:
        return None
    if latest == added.version:
        doc = _full_doc(snap, versions, time=times, added=added)
    else:
        # The latest version (top-level fields, readme) is unchanged: keep them.
        doc = _full_doc(snap, versions, time=times, added=added, latest=None)
        for key in (*_TOP_FIELDS, "readme", "readmeFilename"):
            if key in old:
                doc[key] = old[key]
    return _encode(snap, doc, versions)


def _encode(
    snap: PackageSnapshot, doc: dict[str, Any], versions: dict[str, dict[str, Any]]
) -> BuiltPackument:
    # One encoding: the digest is over the document without _id/_rev (the rev contains
    # the digest), and those two keys are spliced in front of the same bytes. orjson keeps
    # insertion order, so equal documents give equal bytes (and ETags).
    body = orjson.dumps(doc)
    digest = hashlib.sha256(body).hexdigest()
    rev = f"{snap.rev}-{digest[:32]}"
    head = b'{"_id":' + orjson.dumps(snap.name) + b',"_rev":' + orjson.dumps(rev)
    full_bytes = head + (b"," + body[1:] if len(body) > 2 else b"}")
    abbrev = {
        "name": snap.name,
        "modified": iso(snap.modified_at),
        "dist-tags": snap.dist_tags,
        "versions": {v: {k: d[k] for k in CORGI_FIELDS if k in d} for v, d in versions.items()},
    }
    abbrev_bytes = orjson.dumps(abbrev)
    return BuiltPackument(
        full=full_bytes,
        abbrev=abbrev_bytes,
        full_gz=gzip.compress(full_bytes, compresslevel=6, mtime=0),
        abbrev_gz=gzip.compress(abbrev_bytes, compresslevel=6, mtime=0),
        etag=digest[:40],
        rev=rev,
    )


_LATEST = object()  # _full_doc's default: pick the latest version from the snapshot


def _full_doc(
    snap: PackageSnapshot,
    versions: dict[str, dict[str, Any]],
    *,
    time: dict[str, str] | None = None,
    added: VersionSnapshot | None = None,
    latest: Any = _LATEST,
) -> dict[str, Any]:
    """The full document; with `time` and `added`, the stored times plus the added version
    (and `latest=None`: no top-level fields from a version, the caller copies them)."""
    if latest is _LATEST:
        latest = added if added is not None else _latest(snap)
    top: dict[str, Any] = {"name": snap.name, "dist-tags": snap.dist_tags, "versions": versions}
    if time is None:
        time = {"created": iso(snap.created_at), "modified": iso(snap.modified_at)}
        for v in snap.versions:
            time[v.version] = iso(v.published_at)
    else:
        time["modified"] = iso(snap.modified_at)
        if added is not None:
            time[added.version] = iso(added.published_at)
    top["time"] = time
    top["maintainers"] = snap.maintainers
    top["users"] = {}
    if added is not None and latest is None:
        return top
    if latest is not None:
        for key in _TOP_FIELDS:
            if key in latest.manifest:
                top[key] = latest.manifest[key]
        top["readme"] = latest.manifest.get("readme", "")
        if "readmeFilename" in latest.manifest:
            top["readmeFilename"] = latest.manifest["readmeFilename"]
    else:
        top["readme"] = ""
    return top


def _latest(snap: PackageSnapshot) -> VersionSnapshot | None:
    wanted = snap.dist_tags.get("latest")
    by_version = {v.version: v for v in snap.versions}
    if wanted in by_version:
        return by_version[wanted]
    return snap.versions[-1] if snap.versions else None


def _version_doc(snap: PackageSnapshot, v: VersionSnapshot) -> dict[str, Any]:
    doc = {k: val for k, val in v.manifest.items() if k not in ("readme", "readmeFilename")}
    doc["name"] = snap.name
    doc["version"] = v.version
    doc["_id"] = f"{snap.name}@{v.version}"
    dist: dict[str, Any] = {
        "tarball": tarball_url(snap.base_url, snap.name, v.version),
        "shasum": v.shasum,
        "integrity": v.integrity,
    }
    if v.file_count is not None:
        dist["fileCount"] = v.file_count
    if v.unpacked_size is not None:
        dist["unpackedSize"] = v.unpacked_size
    if v.has_provenance:
        dist["attestations"] = {
            "url": f"{snap.base_url}/-/npm/v1/attestations/{snap.name}@{v.version}",
            "provenance": {"predicateType": SLSA_PROVENANCE},
        }
    doc["dist"] = dist
    if v.npm_user:
        doc["_npmUser"] = v.npm_user
    doc["maintainers"] = snap.maintainers
    if v.deprecated:
        doc["deprecated"] = v.deprecated
    return doc


def highest(versions: list[str], *, stable_only: bool = False) -> str | None:
    """The highest semver of `versions` (optionally ignoring prereleases)."""
    parsed = []
    for text in versions:
        try:
            ver = semver.Version.parse(text)
        except ValueError:
            continue
        if stable_only and ver.prerelease:
            continue
        parsed.append((ver, text))
    return max(parsed)[1] if parsed else None
