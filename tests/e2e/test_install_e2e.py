"""Reading packages through the real npm CLI: pack, diff, search, ping, restricted packages."""

from __future__ import annotations

import json
import tarfile

from tests.support.otp import CodeSource, enrol_live
from tests.support.packages import make_package_dir
from tests.support.users import signup


def test_pack_and_diff_between_two_versions(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-d", "1.0.0"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-d", "1.1.0"))
    reader = npm_factory(server, "reader")
    out_dir = tmp_path / "packed"
    out_dir.mkdir()
    reader.ok("pack", "pkg-d@1.0.0", cwd=out_dir)
    with tarfile.open(out_dir / "pkg-d-1.0.0.tgz") as tar:
        manifest = json.load(tar.extractfile("package/package.json"))
    assert manifest["version"] == "1.0.0"
    diff = reader.ok("diff", "--diff=pkg-d@1.0.0", "--diff=pkg-d@1.1.0", cwd=out_dir).stdout
    assert '-  "version": "1.0.0"' in diff and '+  "version": "1.1.0"' in diff
    assert "pkg-d@1.0.0" in diff and "pkg-d@1.1.0" in diff


def test_search_and_ping(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "left-pad-x", "1.0.0", keywords=["pad"]))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "other-thing", "1.0.0"))
    found = alice.ok("search", "left-pad").stdout
    assert "left-pad-x" in found and "other-thing" not in found
    assert "alice" in found
    results = json.loads(alice.ok("search", "pad", "--json").stdout)
    assert [r["name"] for r in results] == ["left-pad-x"]
    assert "No matches found" in alice.ok("search", "nothing-like-this").stdout
    assert "PONG" in alice.ok("ping").output


def test_restricted_package_is_invisible_to_others_and_installable_by_maintainer(
    server, npm_factory, tmp_path
):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    bob = npm_factory(server, "bob", signup(server.url, "bob"))
    anon = npm_factory(server, "anon")
    alice.ok(
        "publish", "--access", "restricted", cwd=make_package_dir(tmp_path, "@alice/sec", "1.0.0")
    )
    assert alice.ok("access", "get", "status", "@alice/sec").stdout.strip() == "@alice/sec: private"
    for outsider in (bob, anon):
        denied = outsider.run("view", "@alice/sec")
        assert denied.code != 0 and "404" in denied.output
    assert server.client().get("/@alice/sec/-/sec-1.0.0.tgz").status_code == 404
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    assert bob.run("install", "@alice/sec", cwd=app).code != 0
    alice.ok("install", "@alice/sec", cwd=app)
    assert (app / "node_modules/@alice/sec/index.js").exists()
    # Not found in search by others, found by the maintainer.
    assert "@alice/sec" not in bob.ok("search", "sec").stdout
    assert "@alice/sec" in alice.ok("search", "sec").stdout


def test_access_status_mfa_and_listings(server, npm_factory, tmp_path):
    alice_token = signup(server.url, "alice")
    alice = npm_factory(server, "alice", alice_token)
    bob = npm_factory(server, "bob", signup(server.url, "bob"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "@alice/acc", "1.0.0"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "plain", "1.0.0"))
    # A scoped package published without --access is private, as on npmjs.
    assert alice.ok("access", "get", "status", "@alice/acc").stdout.strip() == "@alice/acc: private"
    alice.ok("access", "set", "status=public", "@alice/acc")
    assert alice.ok("access", "get", "status", "@alice/acc").stdout.strip() == "@alice/acc: public"
    alice.ok("access", "set", "status=private", "@alice/acc")
    assert "private" in alice.ok("access", "get", "status", "@alice/acc").stdout
    assert bob.run("view", "@alice/acc").code != 0
    alice.ok("access", "set", "status=public", "@alice/acc")
    assert bob.ok("view", "@alice/acc", "name").stdout.strip() == "@alice/acc"
    refused = alice.run("access", "set", "status=private", "plain")
    assert refused.code != 0
    # Only maintainers may change access settings.
    assert bob.run("access", "set", "mfa=publish", "@alice/acc").code != 0
    # Requiring 2FA for a package needs 2FA on the account first (else no way back).
    no_2fa = alice.run("access", "set", "mfa=automation", "@alice/acc")
    assert no_2fa.code != 0 and "Enable two-factor authentication" in no_2fa.output
    with server.client(alice_token) as http:
        secret, _ = enrol_live(http)
    otp = CodeSource(secret, current_used=True).next()
    alice.ok("access", "set", "mfa=automation", "@alice/acc", f"--otp={otp}")
    with server.client() as http:
        assert http.get("/-/package/@alice%2facc/visibility").json()["mfa"] == "automation"

    packages = json.loads(alice.ok("access", "list", "packages", "--json").stdout)
    assert packages == {"@alice/acc": "read-write", "plain": "read-write"}
    collaborators = json.loads(
        alice.ok("access", "list", "collaborators", "@alice/acc", "--json").stdout
    )
    assert collaborators == {"alice": "read-write"}
