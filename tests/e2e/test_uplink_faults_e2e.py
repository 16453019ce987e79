"""The uplink cache against a misbehaving upstream: slow, erroring, garbage, removals.

The upstream is tests.support.fake_upstream (a real HTTP server on 127.0.0.1 the test
steers); Airlock is a live `airlock serve`, read with httpx and with the real npm CLI.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.fake_upstream import FakeUpstream


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
    # A version the upstream does not have either: one refetch, then 404, no loop.
    assert http.get("/fake-pkg/-/fake-pkg-9.9.9.tgz").status_code == 404
    assert fake.paths()[before:] == ["/fake-pkg"]


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
