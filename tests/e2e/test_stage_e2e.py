"""`npm stage ...` end to end: the real npm CLI against a live Airlock."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.support.otp import enrol_live, finish, spawn_npm
from tests.support.packages import make_package_dir, publish_body
from tests.support.s3 import stored_tarballs
from tests.support.staging import STAGE_ID
from tests.support.users import signup

STAGED = re.compile(r"\+ (\S+) \(staged with id ([0-9a-f-]{36})\)")


def _stage_ids(output: str) -> dict[str, str]:
    return {spec: sid for spec, sid in STAGED.findall(output)}


def _token(http: httpx.Client, **body: object) -> str:
    resp = http.post("/-/npm/v1/tokens", json={"password": "correct-horse-9", **body})
    assert resp.status_code in (200, 201), resp.text
    token: str = resp.json()["token"]
    return token


def test_stage_review_approve_and_reject_with_the_npm_cli(server, npm_factory, tmp_path):
    session = signup(server.url, "alice")
    alice = npm_factory(server, "alice", session)
    _, recovery = enrol_live(server.client(session))
    # Staging never asks for a code, even from an account with 2FA for writes.
    out = alice.ok(
        "stage", "publish", "--tag", "beta", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0")
    ).output
    first = _stage_ids(out)["pkg-a@1.0.0"]
    assert re.match(STAGE_ID, first)
    scoped_dir = make_package_dir(tmp_path, "@alice/pkg-s", "2.0.0")
    packed = alice.ok("pack", "--json", cwd=scoped_dir)
    tgz = scoped_dir / json.loads(packed.stdout)[0]["filename"]
    out = alice.ok("stage", "publish", str(tgz), "--access", "public").output
    second = _stage_ids(out)["@alice/pkg-s@2.0.0"]

    listed = alice.ok("stage", "list").stdout
    assert first in listed and second in listed
    only = json.loads(alice.ok("stage", "list", "@alice/pkg-s", "--json").stdout)
    assert [item["id"] for item in only] == [second]

    view = alice.ok("stage", "view", first).stdout
    for line in (
        "package name: pkg-a",
        "version: 1.0.0",
        "tag: beta",
        "staged by: alice (user)",
        "status: staged",
        "access: public",
    ):
        assert line in view, view
    assert "[object Object]" not in view

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    alice.ok("stage", "download", second, cwd=downloads)
    fetched = downloads / f"alice-pkg-s-2.0.0-{second}.tgz"
    assert fetched.read_bytes() == tgz.read_bytes()  # exactly the staged bytes

    # Deciding needs a code: without one npm fails with EOTP (no TTY to prompt on).
    denied = alice.run("stage", "approve", first)
    assert denied.code != 0 and "EOTP" in denied.output
    done = alice.ok("stage", "approve", first, f"--otp={recovery[0]}").output
    assert f"Staged package {first} approved and published successfully" in done
    view = json.loads(alice.ok("view", "pkg-a", "--json").stdout)
    assert view["dist-tags"]["beta"] == "1.0.0"
    reused = alice.run("stage", "reject", second, f"--otp={recovery[0]}")
    assert reused.code != 0
    rejected = alice.ok("stage", "reject", second, f"--otp={recovery[1]}").output
    assert f"Staged package {second} has been rejected" in rejected
    assert "No staged packages found" in alice.ok("stage", "list").output
    assert alice.run("view", "@alice/pkg-s").code != 0

    # On a terminal with auth-type legacy npm prompts for the code and repeats the approval
    # with it (the default, auth-type web, goes through the browser: test_web_cli_e2e.py).
    out = alice.ok("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.1.0")).output
    third = _stage_ids(out)["pkg-a@1.1.0"]
    child = spawn_npm(alice, "stage", "approve", third, "--auth-type=legacy")
    child.expect("Enter OTP:")
    child.sendline(recovery[2])
    code, printed = finish(child)
    assert code == 0 and "approved and published successfully" in printed, printed

    status = server.client().get("/-/package/pkg-a/version/1.0.0/status")
    assert status.json() == {"packageName": "pkg-a", "version": "1.0.0", "status": "published"}
    raw = server.client().get(view["dist"]["tarball"].replace(server.url, ""))
    assert raw.status_code == 200


def test_staged_versions_are_invisible_to_everything_public(server, npm_factory, tmp_path):
    alice_token = signup(server.url, "alice")
    alice = npm_factory(server, "alice", alice_token)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-v", "1.0.0", keywords=["vis"]))
    out = alice.ok("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-v", "1.1.0")).output
    stage_id = _stage_ids(out)["pkg-v@1.1.0"]
    alice.ok(
        "stage", "publish", cwd=make_package_dir(tmp_path, "hidden-new", "1.0.0", keywords=["vis"])
    )
    reader = npm_factory(server, "reader")
    # npm view: only the published version, and nothing at all for a brand-new name.
    view = json.loads(reader.ok("view", "pkg-v", "--json").stdout)
    assert view["versions"] == ["1.0.0"] and view["dist-tags"] == {"latest": "1.0.0"}
    assert "E404" in reader.run("view", "hidden-new").output
    # Both packument forms, and the tarball URL.
    http = server.client()
    full = http.get("/pkg-v", headers={"accept": "application/json"}).json()
    corgi = http.get("/pkg-v", headers={"accept": "application/vnd.npm.install-v1+json"}).json()
    assert set(full["versions"]) == set(corgi["versions"]) == {"1.0.0"}
    assert "1.1.0" not in full["time"]
    assert http.get("/pkg-v/-/pkg-v-1.1.0.tgz").status_code == 404
    assert http.get("/hidden-new").status_code == 404
    # Install and search.
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    failed = reader.run("install", "pkg-v@1.1.0", cwd=app)
    assert failed.code != 0 and "ETARGET" in failed.output
    failed = reader.run("install", "hidden-new", cwd=app)
    assert failed.code != 0 and "E404" in failed.output
    found = [r["name"] for r in json.loads(reader.ok("search", "vis", "--json").stdout)]
    assert found == ["pkg-v"]
    assert json.loads(reader.ok("search", "pkg-v", "--json").stdout)[0]["version"] == "1.0.0"
    # npm publish of the staged version: 409 naming the stage.
    clash = alice.run("publish", cwd=tmp_path / "pkg-v-1.1.0")
    assert clash.code != 0 and "409" in clash.output, clash.output
    # npm prints UUIDs as *** everywhere; the raw answer carries the stage id.
    assert "is already staged" in clash.output, clash.output
    body = publish_body("pkg-v", "1.1.0")
    raw = server.client(alice_token).put("/pkg-v", json=body)
    assert raw.status_code == 409 and stage_id in raw.json()["error"]
    # Staging it again, with another tag, is 409 too.
    again = alice.run("stage", "publish", "--tag", "next", cwd=tmp_path / "pkg-v-1.1.0")
    assert again.code != 0 and "409" in again.output
    assert json.loads(alice.ok("stage", "view", stage_id, "--json").stdout)["tag"] == "latest"


def test_every_write_credential_stages_and_read_only_is_refused(server, npm_factory, tmp_path):
    session = signup(server.url, "alice")
    http = server.client(session)
    tokens = {
        "read-write": _token(http),
        "bypass": _token(http, bypass_2fa=True),
        "stage-only": _token(http, permission="stage-only"),
        "read-only": _token(http, readonly=True),
    }
    enrol_live(http)
    for i, (label, token) in enumerate(tokens.items()):
        npm = npm_factory(server, f"alice-{label}", token)
        result = npm.run("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-c", f"1.0.{i}"))
        if label == "read-only":
            assert result.code != 0 and "403" in result.output and "read-only" in result.output
        else:
            assert f"+ pkg-c@1.0.{i} (staged with id" in result.check().output, label
    npm = npm_factory(server, "alice", session)
    versions = sorted(
        item["version"] for item in json.loads(npm.ok("stage", "list", "--json").stdout)
    )
    assert versions == ["1.0.0", "1.0.1", "1.0.2"]


def test_workspaces_stage_every_package(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    root = tmp_path / "mono"
    (root / "packages").mkdir(parents=True)
    (root / "package.json").write_text(
        json.dumps(
            {"name": "mono", "version": "0.0.0", "private": True, "workspaces": ["packages/*"]}
        )
    )
    for name in ("ws-one", "ws-two"):
        make_package_dir(root / "packages", name, "1.0.0").rename(root / "packages" / name)
    out = alice.ok("stage", "publish", "--workspaces", cwd=root).output
    assert set(_stage_ids(out)) == {"ws-one@1.0.0", "ws-two@1.0.0"}


def test_stages_expire_without_any_request(server_factory, npm_factory, tmp_path):
    server = server_factory(
        env={
            "AIRLOCK_STAGE_EXPIRY_SECONDS": "2",
            "AIRLOCK_EXPIRY_SWEEP_SECONDS": "0.5",
            "AIRLOCK_BLOB_GRACE_SECONDS": "1",  # older than the grace: collected at expiry
        }
    )
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    folder = make_package_dir(tmp_path, "pkg-e", "1.0.0")
    alice.ok("stage", "publish", cwd=folder)
    assert len(stored_tarballs(server)) == 1
    # No request touches the stage: the background sweep alone deletes row and blob.
    deadline = time.monotonic() + 15
    while stored_tarballs(server) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not stored_tarballs(server)
    assert "No staged packages found" in alice.ok("stage", "list").output
    # The version number is free again.
    assert "(staged with id" in alice.ok("stage", "publish", cwd=folder).output


def test_list_pages_past_100_and_an_approver_without_2fa_is_told_to_enrol(
    server, npm_factory, tmp_path
):
    token = signup(server.url, "alice")
    http = server.client(token)
    for i in range(105):
        resp = http.post("/-/stage/package/many", json=publish_body("many", f"1.0.{i}"))
        assert resp.status_code == 201, resp.text
    alice = npm_factory(server, "alice", token)
    # npm asks perPage=100 from page 0 and follows `total` to the second page.
    items = json.loads(alice.ok("stage", "list", "many", "--json").stdout)
    assert len(items) == 105 and len({item["id"] for item in items}) == 105
    assert items[0]["version"] == "1.0.104"  # newest first
    refused = alice.run("stage", "approve", items[0]["id"], "--otp=123456")
    assert refused.code != 0 and "403" in refused.output
    assert "npm profile enable-2fa" in refused.output
