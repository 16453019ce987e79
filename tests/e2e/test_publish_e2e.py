"""Publishing and reading packages through the real npm CLI."""

from __future__ import annotations

import json
import os
import shutil

from tests.support.packages import make_package_dir
from tests.support.s3 import stored_tarballs
from tests.support.users import signup

CORGI = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


def test_publish_view_install_and_ci_unscoped_and_scoped(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    pkg = make_package_dir(tmp_path, "pkg-a", "1.0.0", keywords=["airlock"])
    out = alice.ok("publish", cwd=pkg)
    assert "+ pkg-a@1.0.0" in out.output
    scoped = make_package_dir(tmp_path, "@alice/pkg-s", "2.0.0-beta.1")
    alice.ok("publish", "--tag", "beta", "--access", "public", cwd=scoped)

    view = json.loads(alice.ok("view", "pkg-a", "--json").stdout)
    assert view["name"] == "pkg-a"
    assert view["versions"] == ["1.0.0"]
    assert view["dist-tags"] == {"latest": "1.0.0"}
    assert "1.0.0" in view["time"] and "created" in view["time"]
    assert view["maintainers"] == ["alice <alice@example.com>"]
    assert view["dist"]["tarball"] == f"{server.url}/pkg-a/-/pkg-a-1.0.0.tgz"
    assert view["dist"]["integrity"].startswith("sha512-")
    assert view["dist"]["fileCount"] == 2
    assert view["_npmUser"] == "alice <alice@example.com>"

    sview = json.loads(alice.ok("view", "@alice/pkg-s", "--json").stdout)
    # The first version under another tag also becomes latest, as on npmjs.
    assert sview["dist-tags"] == {"beta": "2.0.0-beta.1", "latest": "2.0.0-beta.1"}
    assert sview["dist"]["tarball"] == f"{server.url}/@alice/pkg-s/-/pkg-s-2.0.0-beta.1.tgz"

    # Install into a fresh project (anonymous reader), then ci from the lockfile.
    reader = npm_factory(server, "reader")
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    reader.ok("install", "pkg-a@1.0.0", "@alice/pkg-s@beta", cwd=app)
    assert (app / "node_modules/pkg-a/index.js").read_text().startswith("module.exports")
    assert (app / "node_modules/@alice/pkg-s/package.json").exists()
    lock = json.loads((app / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/pkg-a"]
    assert entry["resolved"] == f"{server.url}/pkg-a/-/pkg-a-1.0.0.tgz"
    assert entry["integrity"] == view["dist"]["integrity"]
    shutil.rmtree(app / "node_modules")
    reader.ok("ci", cwd=app)
    assert (app / "node_modules/@alice/pkg-s/index.js").exists()

    # Raw HTTP against the live server: both documents, ETag revalidation, gzip.
    with server.client() as http:
        full = http.get("/@alice%2fpkg-s", headers={"accept": "application/json"})
        assert full.headers["content-type"] == "application/json"
        assert full.headers["content-encoding"] == "gzip"  # httpx asks for gzip
        assert full.json()["_rev"].startswith("2-")
        corgi = http.get("/@alice/pkg-s", headers={"accept": CORGI})
        assert corgi.headers["content-type"] == "application/vnd.npm.install-v1+json"
        assert set(corgi.json()) == {"name", "modified", "dist-tags", "versions"}
        cached = http.get("/@alice%2Fpkg-s", headers={"if-none-match": full.headers["etag"]})
        assert cached.status_code == 304 and cached.content == b""
        missing = http.get("/no-such-package")
        assert missing.status_code == 404 and missing.json()["error"]


def test_npm_shows_the_registry_refusals(server_factory, npm_factory, tmp_path):
    server = server_factory(env={"AIRLOCK_MAX_TARBALL_BYTES": "4000"})
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-r", "1.0.0"))
    # --force skips npm's own pre-check, so the registry's answer is what the user sees.
    again = alice.run("publish", "--force", cwd=make_package_dir(tmp_path / "b", "pkg-r", "1.0.0"))
    assert again.code != 0
    assert "You cannot publish over the previously published versions: 1.0.0." in again.output

    big = make_package_dir(tmp_path, "pkg-big", "1.0.0")
    (big / "blob.bin").write_bytes(os.urandom(8000))
    too_big = alice.run("publish", cwd=big)
    assert too_big.code != 0 and "413" in too_big.output and "limit of 4000 bytes" in too_big.output
    with server.client() as http:
        assert http.get("/pkg-big").status_code == 404
    # Only pkg-r@1.0.0's tarball is stored: nothing of the refused uploads.
    assert len(stored_tarballs(server)) == 1

    stranger = npm_factory(server, "stranger", "npm_not-a-real-token")
    denied = stranger.run("publish", cwd=make_package_dir(tmp_path / "s", "pkg-s", "1.0.0"))
    assert denied.code != 0 and "401" in denied.output
    # The server keeps serving after all of that.
    assert alice.ok("view", "pkg-r", "version").stdout.strip() == "1.0.0"
