"""The uplink cache against a misbehaving upstream: slow, erroring, garbage, removals.

The upstream is tests.support.fake_upstream (a real HTTP server on 127.0.0.1 the test
steers); Airlock is a live `airlock serve`, read with httpx and with the real npm CLI.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.fake_upstream import FakeUpstream

CORGI = "application/vnd.npm.install-v1+json"


@pytest.fixture
def fake():
    upstream = FakeUpstream().start()
    yield upstream
    upstream.stop()


def _proxy(server_factory, fake, **settings: str):
    env = {
        "AIRLOCK_UPLINK_URL": fake.url,
        "AIRLOCK_UPLINK_TTL_SECONDS": "1",
        "AIRLOCK_UPLINK_TIMEOUT_SECONDS": "1",
        "AIRLOCK_UPLINK_MAX_FAILS": "2",
        "AIRLOCK_UPLINK_FAIL_TIMEOUT_SECONDS": "2",
        **settings,
    }
    return server_factory(env=env)


def test_packument_is_fetched_once_rewritten_and_revalidated_with_etag(server_factory, fake):
    data = fake.add_version("1.0.0")
    proxy = _proxy(server_factory, fake, AIRLOCK_UPLINK_TTL_SECONDS="60")
    http = proxy.client()
    first = http.get("/fake-pkg")
    assert first.status_code == 200, first.text
    dist = first.json()["versions"]["1.0.0"]["dist"]
    # Links point at Airlock, never at the address the upstream document gave.
    assert dist["tarball"] == f"{proxy.url}/fake-pkg/-/fake-pkg-1.0.0.tgz"
    second = http.get("/fake-pkg")
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert fake.paths().count("/fake-pkg") == 1  # within the TTL: served from the cache
    assert (
        http.get("/fake-pkg", headers={"if-none-match": first.headers["etag"]}).status_code == 304
    )
    tgz = http.get("/fake-pkg/-/fake-pkg-1.0.0.tgz")
    assert tgz.status_code == 200 and tgz.content == data
    assert http.get("/fake-pkg/-/fake-pkg-1.0.0.tgz").content == data
    assert fake.paths().count("/fake-pkg/-/fake-pkg-1.0.0.tgz") == 1  # kept after the first


def test_cached_packument_in_both_forms_gzip_and_304_without_asking_upstream(server_factory, fake):
    fake.add_version("1.0.0")
    proxy = _proxy(server_factory, fake, AIRLOCK_UPLINK_TTL_SECONDS="600")
    http = proxy.client()
    assert http.get("/fake-pkg").status_code == 200  # fetched and stored once
    for accept in ("application/json", CORGI):
        for encoding in ("gzip", "identity"):
            resp = http.get("/fake-pkg", headers={"accept": accept, "accept-encoding": encoding})
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith(accept)
            assert resp.headers.get("content-encoding") == ("gzip" if encoding == "gzip" else None)
            doc = resp.json()
            dist = doc["versions"]["1.0.0"]["dist"]
            assert dist["tarball"] == f"{proxy.url}/fake-pkg/-/fake-pkg-1.0.0.tgz"
            assert ("time" in doc) is (accept == "application/json")
            etag = resp.headers["etag"]
            again = http.get("/fake-pkg", headers={"accept": accept, "if-none-match": etag})
            assert again.status_code == 304 and again.headers["etag"] == etag
            head = http.head("/fake-pkg", headers={"accept": accept})
            assert head.status_code == 200 and head.content == b""
    assert fake.paths() == ["/fake-pkg"]


def test_version_route_refetches_a_missing_version_or_tag_once(server_factory, fake):
    scoped = FakeUpstream(name="@fake/scoped-pkg").start()
    try:
        scoped.add_version("1.0.0")
        proxy = _proxy(server_factory, scoped, AIRLOCK_UPLINK_TTL_SECONDS="600")
        http = proxy.client()
        for path in ("/@fake%2fscoped-pkg/1.0.0", "/@fake/scoped-pkg/latest"):
            doc = http.get(path).json()
            assert doc["version"] == "1.0.0"
            assert doc["dist"]["tarball"] == f"{proxy.url}/@fake/scoped-pkg/-/scoped-pkg-1.0.0.tgz"
        assert scoped.paths() == ["/@fake/scoped-pkg"]
        scoped.add_version("1.1.0")  # a release upstream within the TTL
        # A tag the cached copy has follows the TTL, like the packument (no refetch)...
        assert http.get("/@fake/scoped-pkg/latest").json()["version"] == "1.0.0"
        assert scoped.paths() == ["/@fake/scoped-pkg"]
        # ...a version it lacks is refetched once, then served from the new copy.
        got = http.get("/@fake/scoped-pkg/1.1.0")
        assert got.status_code == 200 and got.json()["version"] == "1.1.0"
        assert scoped.paths() == ["/@fake/scoped-pkg"] * 2
        assert scoped.requests[-1][1].get("if-none-match") == '"v1-1.0.0"'  # conditional
        # The packument of this instance shows it at once (the cached copy was replaced).
        doc = http.get("/@fake%2fscoped-pkg", headers={"accept": CORGI}).json()
        assert doc["dist-tags"]["latest"] == "1.1.0" and "1.1.0" in doc["versions"]
        # Versions and tags nobody has: 404, and no new upstream request within the interval.
        for spec in ("9.9.9", "9.9.8", "no-such-tag"):
            missing = http.get(f"/@fake/scoped-pkg/{spec}")
            assert missing.status_code == 404 and "error" in missing.json()
        assert scoped.paths() == ["/@fake/scoped-pkg"] * 2
    finally:
        scoped.stop()


def test_revalidation_after_ttl_uses_conditional_request_and_handles_304(server_factory, fake):
    fake.add_version("1.0.0")
    proxy = _proxy(server_factory, fake)
    http = proxy.client()
    body = http.get("/fake-pkg").content
    time.sleep(1.2)
    again = http.get("/fake-pkg")
    assert again.status_code == 200 and again.content == body
    revalidation = fake.requests[-1]
    assert revalidation[1].get("if-none-match") == fake.etag  # answered 304 by the fake
    assert "warning" not in again.headers


def test_tarball_of_a_version_the_cache_lacks_refetches_the_packument_once(server_factory, fake):
    fake.add_version("1.0.0")
    proxy = _proxy(server_factory, fake, AIRLOCK_UPLINK_TTL_SECONDS="600")
    http = proxy.client()
    assert "1.1.0" not in http.get("/fake-pkg").json()["versions"]
    newer = fake.add_version("1.1.0")
    got = http.get("/fake-pkg/-/fake-pkg-1.1.0.tgz")
    assert got.status_code == 200 and got.content == newer
    assert "1.1.0" in http.get("/fake-pkg").json()["versions"]
    before = len(fake.requests)
    # A version the upstream does not have either, right after that refetch: 404 without
    # asking again (at most one refetch per name per uplink_refetch_interval_seconds).
    assert http.get("/fake-pkg/-/fake-pkg-9.9.9.tgz").status_code == 404
    assert http.get("/fake-pkg/9.9.8").status_code == 404
    assert fake.paths()[before:] == []


def test_upstream_down_serves_stale_with_a_warning_and_cached_tarballs(server_factory, fake):
    data = fake.add_version("1.0.0")
    proxy = _proxy(server_factory, fake)
    http = proxy.client()
    fresh = http.get("/fake-pkg").content
    assert http.get("/fake-pkg/-/fake-pkg-1.0.0.tgz").content == data
    fake.mode = "error"
    time.sleep(1.2)
    stale = http.get("/fake-pkg")
    assert stale.status_code == 200 and stale.content == fresh
    assert "stale" in stale.headers["warning"].lower()
    assert http.get("/fake-pkg/-/fake-pkg-1.0.0.tgz").content == data
    # Never cached and the upstream is failing: a clear 503, not a 500 or a fake 404.
    missing = http.get("/other-pkg")
    assert missing.status_code == 503 and "uplink" in missing.json()["error"]


def test_garbage_from_upstream_is_refused_and_never_cached(server_factory, fake):
    fake.add_version("1.0.0")
    fake.mode = "garbage"
    proxy = _proxy(server_factory, fake)
    http = proxy.client()
    resp = http.get("/fake-pkg")
    assert resp.status_code == 503 and "error" in resp.json()
    fake.mode = "ok"
    time.sleep(2.2)  # the breaker (2 failures? one here) may be open: wait out its timeout
    good = http.get("/fake-pkg")
    assert good.status_code == 200 and "1.0.0" in good.json()["versions"]


def test_slow_upstream_times_out_and_the_breaker_stops_asking(server_factory, fake):
    fake.add_version("1.0.0")
    fake.mode = "slow"
    proxy = _proxy(server_factory, fake, AIRLOCK_UPLINK_FAIL_TIMEOUT_SECONDS="30")
    http = proxy.client()
    for name in ("a-pkg", "b-pkg"):
        started = time.monotonic()
        assert http.get(f"/{name}").status_code == 503
        assert time.monotonic() - started < 2.5  # the 1 s timeout, not the 3 s upstream
    asked = len(fake.requests)
    started = time.monotonic()
    open_breaker = http.get("/c-pkg")
    assert open_breaker.status_code == 503 and time.monotonic() - started < 0.5
    assert len(fake.requests) == asked  # the open breaker did not touch the upstream


def test_tarball_not_matching_integrity_is_refused_and_not_kept(server_factory, fake):
    data = fake.add_version("1.0.0")
    proxy = _proxy(server_factory, fake, AIRLOCK_UPLINK_MAX_FAILS="5")
    http = proxy.client()
    assert http.get("/fake-pkg").status_code == 200
    fake.mode = "bad-tarball"
    bad = http.get("/fake-pkg/-/fake-pkg-1.0.0.tgz")
    assert bad.status_code == 502 and "integrity" in bad.json()["error"]
    fake.mode = "ok"
    good = http.get("/fake-pkg/-/fake-pkg-1.0.0.tgz")
    assert good.status_code == 200 and good.content == data


def test_upstream_removal_is_reflected_at_the_next_refresh(
    server_factory, fake, npm_factory, tmp_path
):
    fake.add_version("1.0.0")
    fake.add_version("1.0.1")
    proxy = _proxy(server_factory, fake)
    http = proxy.client()
    assert http.get("/fake-pkg").json()["dist-tags"]["latest"] == "1.0.1"
    assert http.get("/fake-pkg/-/fake-pkg-1.0.1.tgz").status_code == 200
    fake.remove_version("1.0.1")  # e.g. a malicious release taken down upstream
    time.sleep(1.2)
    doc = http.get("/fake-pkg").json()
    assert list(doc["versions"]) == ["1.0.0"] and doc["dist-tags"]["latest"] == "1.0.0"
    assert http.get("/fake-pkg/-/fake-pkg-1.0.1.tgz").status_code == 404
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    npm = npm_factory(proxy, "reader")
    npm.ok("install", "fake-pkg", cwd=app)
    lock = json.loads((app / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/fake-pkg"]["version"] == "1.0.0"
