"""Managing packages through the real npm CLI: dist-tags, deprecate, unpublish, owners."""

from __future__ import annotations

import json

from tests.support.packages import make_package_dir
from tests.support.users import signup


def _project(tmp_path, name="app"):
    app = tmp_path / name
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0"}))
    return app


def test_dist_tag_add_ls_rm(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    for version in ("1.0.0", "1.1.0"):
        alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-t", version))
    assert "+beta: pkg-t@1.0.0" in alice.ok("dist-tag", "add", "pkg-t@1.0.0", "beta").stdout
    listed = alice.ok("dist-tag", "ls", "pkg-t").stdout
    assert "beta: 1.0.0" in listed and "latest: 1.1.0" in listed
    # npm refuses range-like tags itself; the server refuses them too (raw HTTP below).
    assert "-beta: pkg-t@1.0.0" in alice.ok("dist-tag", "rm", "pkg-t", "beta").stdout
    assert "beta" not in alice.ok("dist-tag", "ls", "pkg-t").stdout
    with server.client(alice.userconfig.read_text().split("_authToken=")[1].strip()) as http:
        resp = http.put("/-/package/pkg-t/dist-tags/next", json="9.9.9")
        assert resp.status_code == 400 and "not a published version" in resp.json()["error"]
        resp = http.put("/-/package/pkg-t/dist-tags/1.x", json="1.0.0")
        assert resp.status_code == 400 and "semver" in resp.json()["error"]
        assert http.delete("/-/package/pkg-t/dist-tags/latest").status_code == 400


def test_deprecate_warns_on_install_and_undeprecate_clears(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    alice.ok("publish", "--access=public", cwd=make_package_dir(tmp_path, "@alice/old", "1.0.0"))
    alice.ok("deprecate", "@alice/old@1.0.0", "use @alice/new instead")
    view = json.loads(alice.ok("view", "@alice/old", "--json").stdout)
    assert view["deprecated"] == "use @alice/new instead"
    reader = npm_factory(server, "reader")
    app = _project(tmp_path)
    out = reader.ok("install", "@alice/old", cwd=app)
    assert "deprecated" in out.output and "use @alice/new instead" in out.output
    alice.ok("undeprecate", "@alice/old@1.0.0")
    view = json.loads(alice.ok("view", "@alice/old", "--json").stdout)
    assert "deprecated" not in view


def test_unpublish_version_and_package_and_numbers_are_never_reused(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    for version in ("1.0.0", "1.1.0"):
        alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-u", version))
    assert "- pkg-u@1.1.0" in alice.ok("unpublish", "pkg-u@1.1.0").stdout
    view = json.loads(alice.ok("view", "pkg-u", "--json").stdout)
    assert view["versions"] == ["1.0.0"]
    assert view["dist-tags"] == {"latest": "1.0.0"}
    assert server.client().get("/pkg-u/-/pkg-u-1.1.0.tgz").status_code == 404

    again = alice.run("publish", cwd=make_package_dir(tmp_path / "again", "pkg-u", "1.1.0"))
    assert again.code != 0 and "cannot be reused" in again.output

    alice.ok("unpublish", "pkg-u", "--force")
    assert server.client().get("/pkg-u").status_code == 404
    gone = alice.run("view", "pkg-u")
    assert gone.code != 0 and "404" in gone.output
    # The name stays with alice: others cannot take it, and old numbers stay burnt.
    bob = npm_factory(server, "bob", signup(server.url, "bob"))
    taken = bob.run("publish", cwd=make_package_dir(tmp_path / "bob", "pkg-u", "2.0.0"))
    assert taken.code != 0 and "403" in taken.output
    reused = alice.run("publish", cwd=make_package_dir(tmp_path / "a3", "pkg-u", "1.0.0"))
    assert reused.code != 0 and "cannot be reused" in reused.output
    alice.ok("publish", cwd=make_package_dir(tmp_path / "a4", "pkg-u", "2.0.0"))
    assert json.loads(alice.ok("view", "pkg-u", "versions", "--json").stdout) == ["2.0.0"]


def test_owner_ls_add_rm_controls_who_may_publish(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    bob = npm_factory(server, "bob", signup(server.url, "bob"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-o", "1.0.0"))
    # A new name belongs to whoever publishes it first.
    refused = bob.run("publish", cwd=make_package_dir(tmp_path / "b", "pkg-o", "1.1.0"))
    assert refused.code != 0 and "403" in refused.output
    assert "You do not have permission" in refused.output

    assert alice.ok("owner", "ls", "pkg-o").stdout.strip() == "alice <alice@example.com>"
    assert "+ bob (pkg-o)" in alice.ok("owner", "add", "bob", "pkg-o").stdout
    assert "bob <bob@example.com>" in bob.ok("owner", "ls", "pkg-o").stdout
    bob.ok("publish", cwd=make_package_dir(tmp_path / "b2", "pkg-o", "1.1.0"))
    assert "- bob (pkg-o)" in alice.ok("owner", "rm", "bob", "pkg-o").stdout
    refused = bob.run("publish", cwd=make_package_dir(tmp_path / "b3", "pkg-o", "1.2.0"))
    assert refused.code != 0 and "403" in refused.output
    # Non-owners cannot change owners either.
    assert bob.run("owner", "add", "bob", "pkg-o").code != 0
    last = alice.run("owner", "rm", "alice", "pkg-o")
    assert last.code != 0
