"""packument.append splices one version into the stored bytes, giving exactly `build`'s
result, and declines (None: the caller rebuilds) whenever it cannot be sure of that."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson

from airlock.packages.packument import PackageSnapshot, VersionSnapshot, append, build

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALICE = [{"name": "alice", "email": "a@example.test"}]


def _version(i: int, **manifest: object) -> VersionSnapshot:
    version = f"1.0.{i}"
    return VersionSnapshot(
        version=version,
        manifest={"name": "p", "version": version, "readme": f"# {i}", **manifest},
        shasum="0" * 40,
        integrity="sha512-x",
        file_count=2,
        unpacked_size=10,
        published_at=T0 + timedelta(seconds=i),
        deprecated=None,
        npm_user={"name": "alice", "email": ""},
        has_provenance=i % 2 == 0,
    )


def _snap(versions: list[VersionSnapshot], **fields: object) -> PackageSnapshot:
    base = {
        "name": "p",
        "rev": len(versions) + 1,
        "created_at": T0,
        "modified_at": T0 + timedelta(seconds=len(versions)),
        "base_url": "http://127.0.0.1",
        "maintainers": ALICE,
        "dist_tags": {"latest": versions[-1].version},
        "versions": versions,
    }
    return PackageSnapshot(**{**base, **fields})  # type: ignore[arg-type]


def _extend(versions: list[VersionSnapshot], added: VersionSnapshot, **fields: object):
    old = build(_snap(versions))
    new = _snap([*versions, added], **fields)
    return append(dataclasses.replace(new, versions=[added]), added, old.full, old.abbrev), new


def test_append_equals_build_for_many_shapes():
    nested = {"dependencies": {"b": "1", "a": "2"}, "repository": {"url": "u", "type": "git"}}
    versions = [_version(i, **nested) for i in range(50)]
    added = _version(50, description="new", **nested)
    spliced, new = _extend(versions, added)
    assert spliced is not None and spliced == build(new)
    # On another tag: latest (and its top-level fields) stay.
    tags = {"latest": "1.0.49", "next": "1.0.50"}
    spliced, new = _extend(versions, added, dist_tags=tags)
    assert spliced is not None and spliced == build(new)
    assert orjson.loads(spliced.full)["readme"] == "# 49"


def test_append_declines_what_only_a_rebuild_gets_right():
    versions = [_version(i) for i in range(3)]
    # A version that is already there, or not the newest publish.
    assert _extend(versions, versions[1])[0] is None
    older = dataclasses.replace(_version(9), published_at=T0 - timedelta(days=1))
    assert _extend(versions, older)[0] is None
    # The maintainers changed (every version lists them), or latest moved elsewhere.
    bob = [*ALICE, {"name": "bob", "email": ""}]
    assert _extend(versions, _version(3), maintainers=bob)[0] is None
    assert _extend(versions, _version(3), dist_tags={"latest": "1.0.0", "n": "1.0.3"})[0] is None
    # Not our layout at all.
    snap = _snap([_version(3)])
    assert append(snap, _version(3), b'{"_id":"p"}', b"{}") is None


def test_markers_inside_manifest_fields_do_not_fool_the_splice():
    tricky = {
        "repository": {"time": {"created": "2999"}, "maintainers": ALICE, "users": {}},
        "bugs": '"},"time":{"created":"',
        "x": {"versions": {"9.9.9": {}}, "time": {"created": "x"}},
    }
    versions = [_version(i, **tricky) for i in range(5)]
    spliced, new = _extend(
        versions, _version(5, **tricky), dist_tags={"latest": "1.0.4", "b": "1.0.5"}
    )
    # Declining is allowed (a rebuild follows); a spliced result must be exact.
    assert spliced is None or spliced == build(new)
    spliced, new = _extend(versions, _version(5, **tricky))
    assert spliced is not None and spliced == build(new)
