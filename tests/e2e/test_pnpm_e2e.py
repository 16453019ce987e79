"""pnpm 12 against a live Airlock: every flow in the pnpm column of docs/clients.md.

One server for the module (each test uses its own users and package names).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.support.clients import Pnpm, blob_files, ensure_pnpm, module_server
from tests.support.otp import CodeSource, enrol_live
from tests.support.packages import make_package_dir
from tests.support.server import LiveServer
from tests.support.users import signup

STAGED = re.compile(r"\+ (\S+) \(staged with id ([0-9a-f-]{36})\)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    ensure_pnpm()
    with module_server(tmp_path_factory.mktemp("pnpm-server")) as srv:
        yield srv


def pnpm_user(server: LiveServer, tmp_path: Path, name: str | None) -> Pnpm:
    client = Pnpm(server.url, tmp_path / f"pnpm-{name or 'anon'}")
    if name:
        client.set_token(signup(server.url, name))
    return client


def consumer(tmp_path: Path, name: str = "consumer") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps({"name": name, "private": True}))
    return folder


def publish(client: Pnpm, folder: Path, *args: str) -> str:
    return client.ok("publish", "--no-git-checks", *args, cwd=folder).output


def test_pnpm_publish_waits_for_availability_then_installs_and_refuses_republish(
    server: LiveServer, tmp_path: Path
) -> None:
    alice = pnpm_user(server, tmp_path, "pn-alice")
    folder = make_package_dir(tmp_path, "pn-pub", "1.0.0")
    # pnpm polls the new tarball with HEAD and needs its Content-Length (was: 405, exit 1).
    out = publish(alice, folder, "--publish-wait-timeout", "10000")
    assert "Published package pn-pub@1.0.0" in out and "Waiting up to 10000ms" in out
    again = alice.run("publish", "--no-git-checks", cwd=folder)
    assert again.code != 0
    assert "cannot publish over the previously published versions: 1.0.0" in again.output
    publish(alice, make_package_dir(tmp_path, "@pn-alice/open", "1.0.0"), "--access", "public")
    publish(alice, make_package_dir(tmp_path, "@pn-alice/secret", "1.0.0"))  # restricted

    anon = pnpm_user(server, tmp_path, None)
    project = consumer(tmp_path)
    anon.ok("add", "pn-pub@1.0.0", "@pn-alice/open", cwd=project)
    assert (project / "node_modules" / "pn-pub" / "index.js").exists()
    assert (project / "node_modules" / "@pn-alice" / "open" / "package.json").exists()
    hidden = anon.run("add", "@pn-alice/secret", cwd=project)
    assert hidden.code != 0 and "404" in hidden.output
    private = consumer(tmp_path, "private-consumer")
    alice.ok("add", "@pn-alice/secret", cwd=private)
    assert (private / "node_modules" / "@pn-alice" / "secret" / "index.js").exists()


def test_pnpm_view_search_whoami_dist_tags_deprecate_and_access(
    server: LiveServer, tmp_path: Path
) -> None:
    bob = pnpm_user(server, tmp_path, "pn-bob")
    publish(bob, make_package_dir(tmp_path, "pn-info", "1.0.0"))
    publish(bob, make_package_dir(tmp_path, "@pn-bob/closed", "1.0.0"))
    assert bob.ok("whoami").stdout.strip() == "pn-bob"
    assert bob.ok("view", "pn-info", "version").stdout.strip() == "1.0.0"
    assert "pn-info" in bob.ok("search", "pn-info").stdout
    assert "+beta: pn-info@1.0.0" in bob.ok("dist-tag", "add", "pn-info@1.0.0", "beta").output
    assert "beta: 1.0.0" in bob.ok("dist-tag", "ls", "pn-info").stdout
    bob.ok("deprecate", "pn-info@1.0.0", "use something else")
    info = httpx.get(f"{server.url}/pn-info").json()
    assert info["versions"]["1.0.0"]["deprecated"] == "use something else"
    # `pnpm access get status` reads GET /-/package/{name}/access (was: 405).
    status = bob.ok("access", "get", "status", "@pn-bob/closed").stdout
    assert "access: restricted" in status
    assert "access: public" in bob.ok("access", "get", "status", "pn-info").stdout
    stranger = pnpm_user(server, tmp_path, "pn-stranger")
    assert stranger.run("access", "get", "status", "@pn-bob/closed").code != 0


def test_pnpm_stage_publish_list_view_download_approve_reject_with_otp(
    server: LiveServer, tmp_path: Path
) -> None:
    carol = pnpm_user(server, tmp_path, "pn-carol")
    token = carol.userconfig.read_text().split(":_authToken=")[1].strip()
    secret, recovery = enrol_live(server.client(token))
    # Recovery codes are accepted wherever a code is and need no wait for a fresh time-step.
    codes = CodeSource(secret, current_used=True)
    # Staging needs no code, even with 2FA for writes.
    out = carol.ok(
        "stage", "publish", "--no-git-checks", cwd=make_package_dir(tmp_path, "pn-s1", "1.0.0")
    ).output
    first = dict(STAGED.findall(out))["pn-s1@1.0.0"]
    out = carol.ok(
        "stage", "publish", "--no-git-checks", cwd=make_package_dir(tmp_path, "pn-s2", "1.0.0")
    ).output
    second = dict(STAGED.findall(out))["pn-s2@1.0.0"]
    listed = carol.ok("stage", "list").stdout
    assert first in listed and second in listed
    view = carol.ok("stage", "view", first).stdout
    assert "package name: pn-s1" in view and "status: staged" in view
    shasum = re.search(r"shasum: ([0-9a-f]{40})", view)[1]  # type: ignore[index]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    carol.ok("stage", "download", first, cwd=downloads)
    (fetched,) = downloads.glob("*.tgz")
    assert hashlib.sha1(fetched.read_bytes()).hexdigest() == shasum
    assert httpx.get(f"{server.url}/pn-s1").status_code == 404  # staged: not installable

    refused = carol.run("stage", "approve", first)
    assert refused.code != 0 and "OTP_NON_INTERACTIVE" in refused.output
    done = carol.ok("stage", "approve", first, "--otp", recovery[0]).output
    assert f"Staged package {first} approved and published successfully" in done
    assert httpx.get(f"{server.url}/pn-s1").json()["dist-tags"]["latest"] == "1.0.0"
    rejected = carol.ok("stage", "reject", second, "--otp", recovery[1]).output
    assert f"Staged package {second} has been rejected" in rejected

    # A publish with 2FA for writes: pnpm 12 (auth-type web, like npm) prints the page to
    # open; completed in Chromium with a code, pnpm finishes on its own.
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import launch
    from tests.support.web import sign_in

    child = carol.spawn(
        "publish", "--no-git-checks", cwd=make_package_dir(tmp_path, "pn-otp", "1.0.0")
    )
    child.expect(r"(http://\S+/-/web/cli/[0-9a-f]{64})")
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        sign_in(page, server.url, "pn-carol", codes.next)
        page.goto(child.match.group(1))
        expect(page.get_by_role("heading", name="Publish pn-otp@1.0.0")).to_be_visible()
        page.get_by_label("One-time code").fill(codes.next())
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("#web-code")).to_be_visible()
        child.expect(pexpect.EOF)
        browser.close()
    child.close()
    assert child.exitstatus == 0, child.before
    assert "Published package pn-otp@1.0.0" in child.before


def workspace(root: Path, *packages: tuple[str, str]) -> Path:
    root.mkdir()
    (root / "package.json").write_text(json.dumps({"name": root.name, "private": True}))
    (root / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/*'\n")
    for name, version in packages:
        make_package_dir(root / "packages", name, version)
    return root


def test_pnpm_recursive_batch_publish_is_all_or_nothing(server: LiveServer, tmp_path: Path) -> None:
    dana = pnpm_user(server, tmp_path, "pn-dana")
    ws = workspace(tmp_path / "ws-ok", ("pn-b-one", "1.0.0"), ("pn-b-two", "1.0.0"))
    out = dana.ok("publish", "--recursive", "--batch", "--no-git-checks", cwd=ws).output
    assert "Published 2 package(s)" in out and "in a single request" in out
    for name in ("pn-b-one", "pn-b-two"):
        assert httpx.get(f"{server.url}/{name}").json()["dist-tags"]["latest"] == "1.0.0"

    # One package of the batch belongs to someone else: nothing is published, no blob kept.
    erin = pnpm_user(server, tmp_path, "pn-erin")
    publish(erin, make_package_dir(tmp_path, "pn-b-taken", "1.0.0"))
    before = blob_files(server)
    ws = workspace(tmp_path / "ws-bad", ("pn-b-new", "1.0.0"), ("pn-b-taken", "2.0.0"))
    refused = dana.run("publish", "--recursive", "--batch", "--no-git-checks", cwd=ws)
    assert refused.code != 0
    assert "pn-b-taken@2.0.0" in refused.output and "permission" in refused.output
    assert httpx.get(f"{server.url}/pn-b-new").status_code == 404
    assert httpx.get(f"{server.url}/pn-b-taken").json()["dist-tags"]["latest"] == "1.0.0"
    assert blob_files(server) == before


def test_pnpm_refusals_name_pnpm_commands(server: LiveServer, tmp_path: Path) -> None:
    frank = pnpm_user(server, tmp_path, "pn-frank")
    token = frank.userconfig.read_text().split(":_authToken=")[1].strip()
    made = server.client(token).post(
        "/-/npm/v1/tokens", json={"password": "correct-horse-9", "permission": "stage-only"}
    )
    assert made.status_code in (200, 201), made.text
    frank.set_token(made.json()["token"])
    refused = frank.run(
        "publish", "--no-git-checks", cwd=make_package_dir(tmp_path, "pn-m", "1.0.0")
    )
    assert refused.code != 0
    assert (
        "`pnpm stage publish`" in refused.output and "`pnpm stage approve <id>`" in refused.output
    )
    assert "`npm stage" not in refused.output
