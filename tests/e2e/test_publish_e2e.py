"""Publishing and reading packages through the real npm CLI."""

from __future__ import annotations

import json

from tests.support.packages import make_package_dir
from tests.support.users import signup


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
    import shutil

    shutil.rmtree(app / "node_modules")
    reader.ok("ci", cwd=app)
    assert (app / "node_modules/@alice/pkg-s/index.js").exists()
