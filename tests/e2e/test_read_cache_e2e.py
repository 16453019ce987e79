"""The read cache's freshness rules with live servers on one database (docs/performance.md).

- the instance that took a write serves it at once;
- another instance within `read_cache_seconds` (default 1 s; configurable);
- worker processes of one `airlock serve --workers N` see each other's writes at once;
- restricted packages never leak through a cache; revoked tokens stop within the bound;
- a publish that answered 201 survives kill -9.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.packages import publish_body
from tests.support.server import LiveServer
from tests.support.users import signup

CORGI = "application/vnd.npm.install-v1+json"
SLACK = 0.75  # request and scheduling time on a busy 2-core machine


def _auth(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def _publish(srv: LiveServer, token: str, name: str, version: str, **kw: object) -> None:
    body = publish_body(name, version, registry=srv.url, **kw)  # type: ignore[arg-type]
    path = name.replace("/", "%2f")
    resp = httpx.put(f"{srv.url}/{path}", json=body, headers=_auth(token), timeout=30)
    assert resp.status_code in (200, 201), resp.text


def _versions(
    srv: LiveServer, name: str, token: str | None = None, corgi: bool = False
) -> set[str]:
    headers = {**_auth(token), "accept-encoding": "gzip"}
    if corgi:
        headers["accept"] = CORGI
    resp = httpx.get(f"{srv.url}/{name.replace('/', '%2f')}", headers=headers, timeout=10)
    if resp.status_code == 404:
        return set()
    assert resp.status_code == 200, resp.text
    return set(resp.json()["versions"])


def _status(srv: LiveServer, path: str, token: str | None = None) -> int:
    return httpx.get(f"{srv.url}{path}", headers=_auth(token), timeout=10).status_code


def _data(tmp_path: Path, name: str) -> Path:
    """A data folder of its own (so its own change counter: only the database and the
    cross-instance bound connect the instances) sharing one blob folder, as several
    machines share one S3 bucket."""
    shared = tmp_path / "shared-blobs"
    shared.mkdir(exist_ok=True)
    data = tmp_path / name
    data.mkdir()
    (data / "blobs").symlink_to(shared, target_is_directory=True)
    return data


def _until(check, bound: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until check() holds; fails if it does not within bound + SLACK."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < bound + SLACK, f"not seen within {bound} s (+{SLACK} s slack)"
        time.sleep(0.02)
    return time.monotonic() - start


def test_writer_sees_at_once_other_instances_within_the_bound(server_factory, tmp_path: Path):
    one = server_factory(data=_data(tmp_path, "one"))
    two = server_factory(data=_data(tmp_path, "two"))  # same database, its own process and cache
    slow = server_factory(data=_data(tmp_path, "slow"), env={"AIRLOCK_READ_CACHE_SECONDS": "3"})
    alice = signup(one.url, "alice")
    _publish(one, alice, "fresh", "1.0.0")
    for srv in (one, two, slow):  # warm every cache (full, abbreviated, tarball)
        assert _versions(srv, "fresh") == {"1.0.0"}
        assert _versions(srv, "fresh", corgi=True) == {"1.0.0"}
        assert _status(srv, "/fresh/-/fresh-1.0.0.tgz") == 200
    warmed = time.monotonic()

    _publish(one, alice, "fresh", "1.1.0")
    # The instance that took the write: at once, in every form.
    assert _versions(one, "fresh") == {"1.0.0", "1.1.0"}
    assert _versions(one, "fresh", corgi=True) == {"1.0.0", "1.1.0"}
    assert _status(one, "/fresh/-/fresh-1.1.0.tgz") == 200
    # Another instance: within read_cache_seconds (default 1 s).
    _until(lambda: _versions(two, "fresh") == {"1.0.0", "1.1.0"}, 1.0)
    _until(lambda: _status(two, "/fresh/-/fresh-1.1.0.tgz") == 200, 1.0)
    # The bound is a setting: a 3 s instance may still serve the old document...
    if time.monotonic() - warmed < 2.0:
        assert _versions(slow, "fresh") == {"1.0.0"}
    # ...and catches up within its 3 s.
    _until(lambda: _versions(slow, "fresh", corgi=True) == {"1.0.0", "1.1.0"}, 3.0)

    # A name first cached as unknown (404) appears on the other instance within the bound.
    assert _status(two, "/brand-new") == 404
    _publish(one, alice, "brand-new", "0.1.0")
    assert _status(one, "/brand-new") == 200
    _until(lambda: _status(two, "/brand-new") == 200, 1.0)


def test_restricted_packages_never_leak_through_a_cache(server_factory, tmp_path: Path):
    one = server_factory(data=_data(tmp_path, "one"))
    two = server_factory(data=_data(tmp_path, "two"))
    alice, bob = signup(one.url, "alice"), signup(one.url, "bob")
    _publish(one, alice, "@alice/secret", "1.0.0", access="restricted")
    tarball = "/@alice/secret/-/secret-1.0.0.tgz"
    for srv in (one, two):
        # The maintainer's reads fill the cache with the bytes and the facts...
        assert _versions(srv, "@alice/secret", alice) == {"1.0.0"}
        assert _versions(srv, "@alice/secret", alice, corgi=True) == {"1.0.0"}
        assert _status(srv, tarball, alice) == 200
        # ...and nobody else gets anything from it: 404, as for a missing name.
        for token in (bob, None):
            assert _status(srv, "/@alice%2fsecret", token) == 404
            assert _status(srv, "/@alice/secret", token) == 404
            assert _status(srv, tarball, token) == 404

    # Public, read (and cached) by bob everywhere; then made restricted on one instance.
    _publish(one, alice, "@alice/open", "1.0.0", access="public")
    for srv in (one, two):
        assert _versions(srv, "@alice/open", bob) == {"1.0.0"}
        assert _status(srv, "/@alice/open/-/open-1.0.0.tgz", bob) == 200
    resp = httpx.post(
        f"{one.url}/-/package/@alice%2fopen/access",
        json={"access": "restricted"},
        headers=_auth(alice),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert _status(one, "/@alice%2fopen", bob) == 404  # at once where it was changed
    assert _status(one, "/@alice/open/-/open-1.0.0.tgz", bob) == 404
    _until(lambda: _status(two, "/@alice%2fopen", bob) == 404, 1.0)
    assert _status(two, "/@alice/open/-/open-1.0.0.tgz", None) == 404
    assert _status(two, "/@alice%2fopen", alice) == 200


def test_revoked_token_stops_within_the_auth_cache_bound(server_factory, tmp_path: Path):
    env = {"AIRLOCK_AUTH_CACHE_SECONDS": "1"}
    one = server_factory(data=_data(tmp_path, "one"), env=env)
    two = server_factory(data=_data(tmp_path, "two"), env=env)
    alice = signup(one.url, "alice")
    _publish(one, alice, "tok", "1.0.0")
    made = httpx.post(
        f"{one.url}/-/npm/v1/tokens",
        json={"password": "correct-horse-9"},
        headers=_auth(alice),
        timeout=30,
    ).json()
    token = made["token"]
    for srv in (one, two):  # cached on both
        assert _status(srv, "/tok", token) == 200
        assert _status(srv, "/tok/-/tok-1.0.0.tgz", token) == 200
    resp = httpx.delete(
        f"{one.url}/-/npm/v1/tokens/token/{made['key']}", headers=_auth(alice), timeout=10
    )
    assert resp.status_code == 204, resp.text
    assert _status(one, "/tok", token) == 401  # at once on the instance that revoked it
    assert _status(one, "/tok/-/tok-1.0.0.tgz", token) == 401
    _until(lambda: _status(two, "/tok", token) == 401, 1.0)
    assert _status(two, "/tok/-/tok-1.0.0.tgz", token) == 401


def test_workers_share_one_port_and_see_each_others_writes(server_factory, tmp_path: Path):
    srv = server_factory(env={"AIRLOCK_WORKERS": "2"})
    alice = signup(srv.url, "alice")
    _publish(srv, alice, "multi", "1.0.0")
    seen: set[str] = set()
    for minor in range(1, 6):
        version = f"1.{minor}.0"
        _publish(srv, alice, "multi", version)
        # Fresh connections land on either worker; every one sees the new version at once.
        for _ in range(8):
            assert version in _versions(srv, "multi")
            assert _status(srv, f"/multi/-/multi-{version}.tgz") == 200
        seen.add(version)
    assert len(seen) == 5


def test_a_publish_that_answered_201_survives_kill_9(server_factory, tmp_path: Path):
    srv = server_factory(data=tmp_path / "data")
    alice = signup(srv.url, "alice")
    for i in range(5):
        _publish(srv, alice, "durable", f"1.0.{i}")
    assert srv.proc is not None
    srv.proc.kill()  # SIGKILL: no shutdown, no flush
    again = server_factory(data=tmp_path / "data")
    assert _versions(again, "durable") == {f"1.0.{i}" for i in range(5)}
    assert _status(again, "/durable/-/durable-1.0.4.tgz") == 200
