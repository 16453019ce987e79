"""npm installing through Airlock with another `airlock serve` as the uplink, and the
dependency-confusion guarantees of protocols.md §4.4."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch, shot
from tests.support.databases import TestDatabase
from tests.support.otp import enrol_live
from tests.support.packages import make_package_dir
from tests.support.server import LiveServer
from tests.support.users import signup
from tests.support.web import sign_in

PRIVATE = '["@acme", "corp-utils"]'


@pytest.fixture
def upstream(tmp_path: Path):
    (tmp_path / "upstream-db").mkdir()
    db = TestDatabase(tmp_path / "upstream-db")
    srv = LiveServer(tmp_path / "upstream", db.url).start()
    yield srv
    srv.stop()
    db.drop()


def _app(tmp_path: Path, name: str = "app") -> Path:
    app = tmp_path / name
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0"}))
    return app


def _installed(app: Path, name: str) -> str:
    manifest = json.loads((app / "node_modules" / name / "package.json").read_text())
    return str(manifest["version"])


def _proxy(server_factory, upstream, **extra: str):
    return server_factory(
        env={"AIRLOCK_UPLINK_URL": upstream.url, "AIRLOCK_PRIVATE_NAMESPACES": PRIVATE, **extra}
    )


def test_npm_installs_public_packages_through_airlock_with_identical_tarballs(
    upstream, server_factory, npm_factory, tmp_path
):
    pub = npm_factory(upstream, "pub", signup(upstream.url, "pub"))
    pub.ok("publish", cwd=make_package_dir(tmp_path / "u", "dep-thing", "2.0.0"))
    pub.ok(
        "publish",
        cwd=make_package_dir(
            tmp_path / "u", "left-thing", "1.1.0", dependencies={"dep-thing": "^2.0.0"}
        ),
    )
    proxy = _proxy(server_factory, upstream)
    dev = npm_factory(proxy, "dev")
    app = _app(tmp_path)
    dev.ok("install", "left-thing", cwd=app)
    assert _installed(app, "left-thing") == "1.1.0" and _installed(app, "dep-thing") == "2.0.0"
    lock = json.loads((app / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/left-thing"]
    assert entry["resolved"] == f"{proxy.url}/left-thing/-/left-thing-1.1.0.tgz"
    original = upstream.client().get("/left-thing/-/left-thing-1.1.0.tgz").content
    assert proxy.client().get("/left-thing/-/left-thing-1.1.0.tgz").content == original

    # The upstream goes away: what was cached still installs (fresh npm cache, clean app).
    upstream.stop()
    offline = npm_factory(proxy, "offline")
    app2 = _app(tmp_path, "app2")
    offline.ok("install", "left-thing", cwd=app2)
    assert _installed(app2, "dep-thing") == "2.0.0"


def test_creating_a_local_name_that_exists_upstream_is_refused(
    upstream, server_factory, npm_factory, tmp_path
):
    pub = npm_factory(upstream, "pub", signup(upstream.url, "pub"))
    pub.ok("publish", cwd=make_package_dir(tmp_path / "u", "popular", "1.0.0"))
    pub.ok("publish", cwd=make_package_dir(tmp_path / "u", "allowed-fork", "1.0.0"))
    proxy = _proxy(server_factory, upstream, AIRLOCK_UPLINK_ALLOWED_NAMES='["allowed-fork"]')
    alice = npm_factory(proxy, "alice", signup(proxy.url, "alice"))
    refused = alice.run("publish", cwd=make_package_dir(tmp_path, "popular", "9.0.0"))
    assert refused.code != 0 and "409" in refused.output
    assert "already exists on the uplink" in refused.output
    staged = alice.run("stage", "publish", cwd=make_package_dir(tmp_path / "s", "popular", "9.0.0"))
    assert staged.code != 0 and "already exists on the uplink" in staged.output
    # Still the upstream package for everyone.
    assert json.loads(alice.ok("view", "popular", "--json").stdout)["version"] == "1.0.0"
    # The operator allowed this one name: it becomes hosted, and only local versions count.
    alice.ok("publish", cwd=make_package_dir(tmp_path, "allowed-fork", "2.0.0"))
    assert json.loads(alice.ok("view", "allowed-fork", "--json").stdout)["versions"] == ["2.0.0"]


def test_private_names_never_come_from_upstream_before_or_after_publish_or_stage(
    upstream, server_factory, npm_factory, tmp_path
):
    # An attacker owns the private names upstream, with a higher version.
    evil = npm_factory(upstream, "evil", signup(upstream.url, "evil"))
    for name in ("corp-utils", "@acme/lib", "@acme/tool"):
        evil.ok(
            "publish", "--access", "public", cwd=make_package_dir(tmp_path / "u", name, "99.0.0")
        )
    proxy = _proxy(server_factory, upstream)
    alice = npm_factory(proxy, "alice", signup(proxy.url, "alice"))
    _, recovery = enrol_live(proxy.client(signup(proxy.url, "alice")))

    # Before any local record: 404 from Airlock, never the upstream package.
    for name in ("corp-utils", "@acme/lib", "@acme/tool"):
        missing = alice.run("view", name, "--json")
        assert missing.code != 0 and "404" in missing.output, missing.output
        assert proxy.client().get(f"/{name.replace('/', '%2f')}").status_code == 404

    # Staged (a reservation, nothing public yet): still 404, still not the upstream.
    alice.ok(
        "stage",
        "publish",
        "--access",
        "public",
        cwd=make_package_dir(tmp_path, "@acme/lib", "1.0.0"),
    )
    app = _app(tmp_path)
    blocked = alice.run("install", "@acme/lib", cwd=app)
    assert blocked.code != 0 and "404" in blocked.output
    assert not (app / "node_modules" / "@acme" / "lib").exists()

    # Published locally: only the local version, even though upstream has 99.0.0.
    alice.ok(
        "publish", f"--otp={recovery[1]}", cwd=make_package_dir(tmp_path, "corp-utils", "1.0.0")
    )
    stage_id = json.loads(alice.ok("stage", "list", "@acme/lib", "--json").stdout)[0]["id"]
    alice.ok("stage", "approve", stage_id, f"--otp={recovery[0]}")
    alice.ok("install", "corp-utils", "@acme/lib", cwd=app)
    assert _installed(app, "corp-utils") == "1.0.0"
    assert _installed(app, "@acme/lib") == "1.0.0"
    for name in ("corp-utils", "@acme/lib"):
        doc = proxy.client().get(f"/{name.replace('/', '%2f')}").json()
        assert list(doc["versions"]) == ["1.0.0"] and doc["dist-tags"]["latest"] == "1.0.0"
    assert proxy.client().get("/corp-utils/-/corp-utils-99.0.0.tgz").status_code == 404

    # Upstream down: hosted names are unaffected, private misses stay 404 (not 503).
    upstream.stop()
    assert proxy.client().get("/corp-utils").status_code == 200
    assert proxy.client().get("/@acme%2ftool").status_code == 404


def test_a_hosted_name_ignores_versions_the_upstream_gains_later(
    upstream, server_factory, npm_factory, tmp_path
):
    proxy = _proxy(server_factory, upstream)
    alice = npm_factory(proxy, "alice", signup(proxy.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "later-pkg", "1.0.0"))  # free upstream
    evil = npm_factory(upstream, "evil", signup(upstream.url, "evil"))
    evil.ok("publish", cwd=make_package_dir(tmp_path / "u", "later-pkg", "99.0.0"))
    app = _app(tmp_path)
    npm_factory(proxy, "dev").ok("install", "later-pkg", cwd=app)
    assert _installed(app, "later-pkg") == "1.0.0"


def test_an_upstream_release_within_the_ttl_reaches_npm_after_one_version_request(
    upstream, server_factory, npm_factory, tmp_path
):
    pub = npm_factory(upstream, "pub", signup(upstream.url, "pub"))
    for name in ("fresh-lib", "@up/fresh-lib"):
        pub.ok("publish", "--access", "public", cwd=make_package_dir(tmp_path / "u", name, "1.0.0"))
    proxy = _proxy(server_factory, upstream, AIRLOCK_UPLINK_TTL_SECONDS="600")
    dev = npm_factory(proxy, "dev")
    for name in ("fresh-lib", "@up/fresh-lib"):
        assert json.loads(dev.ok("view", name, "version", "--json").stdout) == "1.0.0"
        pub.ok("publish", "--access", "public", cwd=make_package_dir(tmp_path / "v", name, "1.1.0"))
    # npm only ever asks for the packument, which follows the TTL (docs/uplink.md): within
    # the 600 s the cached copy, without 1.1.0, is what it gets.
    early = dev.run("view", "fresh-lib@1.1.0", "version", "--json")
    assert early.code != 0 or early.stdout.strip() == "", early.output
    # A request naming the version (GET /{name}/{version}, pnpm's route) refetches once...
    http = proxy.client()
    for path in ("/fresh-lib/1.1.0", "/@up%2ffresh-lib/1.1.0"):
        doc = http.get(path)
        assert doc.status_code == 200, doc.text
        assert doc.json()["version"] == "1.1.0"
        assert doc.json()["dist"]["tarball"].startswith(proxy.url + "/")
    # ...and from then on npm sees it through this Airlock, within the TTL.
    for name in ("fresh-lib", "@up/fresh-lib"):
        assert json.loads(dev.ok("view", f"{name}@1.1.0", "version", "--json").stdout) == "1.1.0"
    app = _app(tmp_path)
    dev.ok("install", "fresh-lib@1.1.0", "@up/fresh-lib@1.1.0", cwd=app)
    assert _installed(app, "fresh-lib") == "1.1.0" and _installed(app, "@up/fresh-lib") == "1.1.0"
    # A version nobody has: 404 (npm view prints nothing, exit code 0 or not).
    assert http.get("/fresh-lib/7.7.7").status_code == 404


def test_a_local_stage_hides_a_cached_upstream_copy_here_at_once_and_elsewhere_within_the_bound(
    upstream, server_factory, npm_factory, tmp_path
):
    pub = npm_factory(upstream, "pub", signup(upstream.url, "pub"))
    pub.ok("publish", cwd=make_package_dir(tmp_path / "u", "forked-lib", "1.0.0"))
    env = {"AIRLOCK_UPLINK_TTL_SECONDS": "600", "AIRLOCK_UPLINK_ALLOWED_NAMES": '["forked-lib"]'}
    one = _proxy(server_factory, upstream, **env)
    (tmp_path / "two").mkdir()
    two = server_factory(
        env={"AIRLOCK_UPLINK_URL": upstream.url, "AIRLOCK_PRIVATE_NAMESPACES": PRIVATE, **env},
        data=tmp_path / "two",
    )  # another instance on the same database, with its own read cache
    for srv in (one, two):  # both hold the upstream copy, in both forms
        assert list(srv.client().get("/forked-lib").json()["versions"]) == ["1.0.0"]
        corgi = {"accept": "application/vnd.npm.install-v1+json"}
        assert srv.client().get("/forked-lib", headers=corgi).status_code == 200

    alice = npm_factory(one, "alice", signup(one.url, "alice"))
    _, recovery = enrol_live(one.client(signup(one.url, "alice")))
    alice.ok("stage", "publish", cwd=make_package_dir(tmp_path, "forked-lib", "2.0.0"))
    # Reserved: the instance that took the stage answers 404 at once, never the upstream copy.
    assert one.client().get("/forked-lib").status_code == 404
    assert one.client().get("/forked-lib/1.0.0").status_code == 404
    # The other instance within read_cache_seconds (1 s; 2 s slack on a busy machine).
    deadline = time.monotonic() + 3
    while two.client().get("/forked-lib").status_code != 404:
        assert time.monotonic() < deadline, "the other instance still serves the upstream copy"
        time.sleep(0.05)
    stage_id = json.loads(alice.ok("stage", "list", "forked-lib", "--json").stdout)[0]["id"]
    alice.ok("stage", "approve", stage_id, f"--otp={recovery[0]}")
    for srv in (one, two):
        deadline = time.monotonic() + 3
        while srv.client().get("/forked-lib").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert list(srv.client().get("/forked-lib").json()["versions"]) == ["2.0.0"]


def test_review_of_a_new_name_says_when_the_upstream_gained_it_meanwhile(
    upstream, server_factory, npm_factory, tmp_path
):
    proxy = _proxy(server_factory, upstream, AIRLOCK_UPLINK_REVIEW_TIMEOUT_SECONDS="2")
    token = signup(proxy.url, "alice")
    alice = npm_factory(proxy, "alice", token)
    _, recovery = enrol_live(proxy.client(signup(proxy.url, "alice")))
    auth = {"authorization": f"Bearer {token}"}
    staged = {}
    for name in ("contested", "@acme/contested", "quiet-name"):  # all free upstream now
        alice.ok(
            "stage", "publish", "--access", "public", cwd=make_package_dir(tmp_path, name, "1.0.0")
        )
        staged[name] = json.loads(alice.ok("stage", "list", name, "--json").stdout)[0]["id"]

    def ids(name: str) -> dict[str, str]:
        got = proxy.client().get(f"/-/airlock/v1/stage/{staged[name]}/signals", headers=auth)
        assert got.status_code == 200, got.text
        return {s["id"]: s["reason"] for s in got.json()["signals"]}

    assert "name-exists-upstream" not in ids("contested")
    # Meanwhile someone publishes the same names on the public registry.
    evil = npm_factory(upstream, "evil", signup(upstream.url, "evil"))
    for name in ("contested", "@acme/contested"):
        evil.ok(
            "publish", "--access", "public", cwd=make_package_dir(tmp_path / "u", name, "9.0.0")
        )
    reason = ids("contested")["name-exists-upstream"]
    assert f"contested now also exists on the uplink {upstream.url}" in reason
    assert "dependency confusion" in reason
    view = alice.ok("stage", "view", staged["contested"]).stdout
    assert "risk name-exists-upstream: [high] contested now also exists on the uplink" in view
    with sync_playwright() as pw:  # the web stage page shows the same signal
        browser = launch(pw)
        page = browser.new_page()
        sign_in(page, proxy.url, "alice", lambda: recovery[1])
        page.goto(f"{proxy.url}/-/web/stages/{staged['contested']}")
        risks = page.get_by_role("list", name="Risk signals")
        expect(risks).to_contain_text("contested now also exists on the uplink")
        expect(risks).to_contain_text("name-exists-upstream")
        risks.scroll_into_view_if_needed()
        shot(page, "stage-name-exists-upstream")
        browser.close()
    # A private namespace is never sent upstream; a name still free raises nothing.
    assert "name-exists-upstream" not in ids("@acme/contested")
    assert not {"name-exists-upstream", "upstream-not-checked"} & set(ids("quiet-name"))

    # The upstream goes away: the review still works and says what it could not check.
    upstream.stop()
    note = ids("contested")["upstream-not-checked"]
    assert note.startswith("upstream not checked: "), note
    view = alice.ok("stage", "view", staged["contested"]).stdout
    assert "risk upstream-not-checked: [info] upstream not checked: " in view
    # Approval is not blocked: the name stays local, and only the local version is served.
    alice.ok("stage", "approve", staged["contested"], f"--otp={recovery[0]}")
    doc = proxy.client().get("/contested").json()
    assert list(doc["versions"]) == ["1.0.0"]
