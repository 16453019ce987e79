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
    # None for documents over GZIP_STORED_MAX: readers compress those on first use
    # (readcache), so a publish does not gzip megabytes of history.
    full_gz: bytes | None
    abbrev_gz: bytes | None
    etag: str
    rev: str


# Documents up to this size are stored with their gzip form too (compressing 256 KiB
# costs a few ms); bigger ones are compressed by readers, once per revision and process.
GZIP_STORED_MAX = 256 * 1024
GZIP_LEVEL = 6

# Layout of the documents (one encoding, so a new version can be spliced into the bytes):
#   full:   {"_id":N,"_rev":R,"name":N,"dist-tags":{..},"versions":{..},"time":{..},
#            "maintainers":[..],"users":{},<top fields of latest>,"readme":..}
#   abbrev: {"name":N,"modified":M,"dist-tags":{..},"versions":{..}}
# Everything that comes from a manifest is encoded with sorted keys, so the bytes do not
# depend on how the database hands a manifest back (PostgreSQL's JSONB reorders keys).
_VERSIONS = b',"versions":{'
_TIME = b',"time":{"created":"'
_SORTED = orjson.OPT_SORT_KEYS
# How many look-alikes of the time map's start (in fields after it) are skipped.
_TIME_CANDIDATES = 8


def build(snap: PackageSnapshot) -> BuiltPackument:
    """Encode both documents, their gzip forms and an ETag."""
    versions = {v.version: _version_doc(snap, v) for v in snap.versions}
    time = {"created": iso(snap.created_at), "modified": iso(snap.modified_at)}
    for v in snap.versions:
        time[v.version] = iso(v.published_at)
    doc = {
        **_head(snap),
        "versions": {v: _fragment(d) for v, d in versions.items()},
        "time": time,
        **_tail(snap, _latest(snap)),
    }
    abbrev = {
        **_abbrev_head(snap),
        "versions": {v: _fragment(_corgi(d)) for v, d in versions.items()},
    }
    return _finish(snap, (orjson.dumps(doc),), orjson.dumps(abbrev))


def append(
    snap: PackageSnapshot, added: VersionSnapshot, old_full: bytes, old_abbrev: bytes
) -> BuiltPackument | None:
    """The documents after one more version went live, spliced into the stored bytes
    instead of rebuilt from every version row (publishing version 5,001 must not cost
    5,000 versions of decoding and encoding). Only the small parts are decoded: the old
    dist-tags, the time map and the fields after it.

    `snap.versions` holds only `added`. Gives None (the caller rebuilds everything) unless
    the result is exactly what `build` would produce: the stored documents have the
    layout above, `added` is new and the newest publish (it comes last), `latest` names a
    published version, and the maintainers are those the stored document lists.
    """
    full = _split_full(snap, old_full)
    abbrev_versions = _split_abbrev(snap, old_abbrev)
    if full is None or abbrev_versions is None:
        return None
    old_tags, versions, times, tail = full
    stamp = iso(added.published_at)
    published = [t for k, t in times.items() if k not in ("created", "modified")]
    if added.version in times or any(stamp <= t for t in published):
        return None
    if times.get("created") != iso(snap.created_at):
        return None
    if not tail.startswith(_maintainers_prefix(snap)):
        return None  # every version lists the maintainers: a rebuild brings them up to date
    latest = snap.dist_tags.get("latest")
    if latest == added.version:
        tail = orjson.dumps(_tail(snap, added))
    elif latest is None or latest not in times or old_tags.get("latest") != latest:
        return None  # the top-level fields would come from another version: rebuild
    times["modified"] = iso(snap.modified_at)
    times[added.version] = stamp
    doc = _version_doc(snap, added)
    key = orjson.dumps(added.version)
    body = (
        orjson.dumps(_head(snap))[:-1],
        _VERSIONS,
        versions,
        b"," if versions else b"",
        key,
        b":",
        orjson.dumps(doc, option=_SORTED),
        b'},"time":',
        orjson.dumps(times),
        b",",
        tail[1:],
    )
    abbrev = b"".join(
        (
            orjson.dumps(_abbrev_head(snap))[:-1],
            _VERSIONS,
            abbrev_versions,
            b"," if abbrev_versions else b"",
            key,
            b":",
            orjson.dumps(_corgi(doc), option=_SORTED),
            b"}}",
        )
    )
    return _finish(snap, body, abbrev)


def _split_full(
    snap: PackageSnapshot, old: bytes
) -> tuple[dict[str, str], memoryview, dict[str, str], bytes] | None:
    """(old dist-tags, the inside of the versions object, the time map, the fields after
    the time map as an object) of a stored full document; None if it is not laid out as
    `build` lays it out for this package."""
    name = orjson.dumps(snap.name)
    prefix = b'{"_id":' + name + b',"_rev":"'
    if not old.startswith(prefix):
        return None
    rev_end = old.find(b'"', len(prefix))
    head = b',"name":' + name + b',"dist-tags":'
    if rev_end < 0 or not old.startswith(head, rev_end + 1):
        return None
    tags_start = rev_end + 1 + len(head)
    # dist-tags holds only strings and the time map only version numbers and timestamps:
    # neither can contain these markers outside a string, so the first ',"versions":{'
    # after the tags and the time map's closing brace are the real ones. The real
    # ',"time":{"created":"' is the last one unless a manifest field after the time map
    # contains one; then what follows that one does not parse as one object (it closes
    # more than it opens), and the one before it is tried.
    versions_start = old.find(_VERSIONS, tags_start)
    if versions_start < 0:
        return None
    try:
        tags = orjson.loads(old[tags_start:versions_start])
    except orjson.JSONDecodeError:
        return None
    end = len(old)
    for _ in range(_TIME_CANDIDATES):
        time_start = old.rfind(_TIME, versions_start, end)
        if time_start < 0:
            return None
        end = time_start
        time_end = old.find(b"}", time_start) + 1
        if old[time_start - 1] != ord("}") or old[time_end : time_end + 1] != b",":
            continue
        try:
            times = orjson.loads(old[time_start + 8 : time_end])
            orjson.loads(b"{" + old[time_end + 1 :])
        except orjson.JSONDecodeError:
            continue
        if not isinstance(tags, dict) or not isinstance(times, dict):
            return None
        versions = memoryview(old)[versions_start + len(_VERSIONS) : time_start - 1]
        return tags, versions, times, old[time_end:]
    return None


def _split_abbrev(snap: PackageSnapshot, old: bytes) -> memoryview | None:
    """The inside of the versions object of a stored abbreviated document."""
    if not old.startswith(b'{"name":' + orjson.dumps(snap.name) + b',"modified":"'):
        return None
    start = old.find(_VERSIONS)  # modified and dist-tags hold only strings
    if start < 0 or not old.endswith(b"}}"):
        return None
    return memoryview(old)[start + len(_VERSIONS) : -2]


def _finish(
    snap: PackageSnapshot, body: tuple[bytes | memoryview, ...], abbrev: bytes
) -> BuiltPackument:
    # The digest is over the document without _id/_rev (the rev contains the digest), and
    # those two keys are spliced in front of the same bytes: equal documents give equal
    # bytes (and ETags). `body` is the document in pieces (joined once, here).
    digest_of = hashlib.sha256()
    for piece in body:
        digest_of.update(piece)
    digest = digest_of.hexdigest()
    rev = f"{snap.rev}-{digest[:32]}"
    head = b'{"_id":' + orjson.dumps(snap.name) + b',"_rev":' + orjson.dumps(rev)
    first = bytes(body[0])
    if len(first) == 2 and len(body) == 1:  # {}
        full = head + b"}"
    else:
        full = b"".join((head, b",", first[1:], *body[1:]))
    return BuiltPackument(
        full=full,
        abbrev=abbrev,
        full_gz=compress(full) if len(full) <= GZIP_STORED_MAX else None,
        abbrev_gz=compress(abbrev) if len(abbrev) <= GZIP_STORED_MAX else None,
        etag=digest[:40],
        rev=rev,
    )


def compress(body: bytes) -> bytes:
    """The gzip form of a document (deterministic: no timestamp)."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _fragment(value: Any) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(value, option=_SORTED))


def _head(snap: PackageSnapshot) -> dict[str, Any]:
    return {"name": snap.name, "dist-tags": snap.dist_tags}


def _abbrev_head(snap: PackageSnapshot) -> dict[str, Any]:
    return {"name": snap.name, "modified": iso(snap.modified_at), "dist-tags": snap.dist_tags}


def _corgi(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in CORGI_FIELDS if k in doc}


def _maintainers_prefix(snap: PackageSnapshot) -> bytes:
    return b',"maintainers":' + orjson.dumps(snap.maintainers) + b',"users":{}'


def _tail(snap: PackageSnapshot, latest: VersionSnapshot | None) -> dict[str, Any]:
    """The fields after the time map: maintainers, and the latest version's top fields."""
    top: dict[str, Any] = {"maintainers": snap.maintainers, "users": {}}
    if latest is not None:
        for key in _TOP_FIELDS:
            if key in latest.manifest:
                top[key] = _fragment(latest.manifest[key])
        top["readme"] = _fragment(latest.manifest.get("readme", ""))
        if "readmeFilename" in latest.manifest:
            top["readmeFilename"] = _fragment(latest.manifest["readmeFilename"])
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
