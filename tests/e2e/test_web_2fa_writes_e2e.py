"""npm's web 2FA for writes other than stage decisions, end to end: the stock npm CLI on a
pseudo-terminal (its default auth-type web) prints the authUrl, real Chromium completes it
with a TOTP code, and npm finishes the write on its own.

- `npm publish` on an auth-and-writes account;
- `npm dist-tag add`, `npm token create`, `npm profile disable-2fa`;
- a code minted in the browser for one publish is refused for another package and for a
  dist-tag change, and still works once for the publish it was made for.
"""

from __future__ import annotations

import re

import httpx
import pexpect
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch, shot
from tests.support.otp import CodeSource, enrol_live, finish
from tests.support.packages import make_package_dir, publish_body
from tests.support.users import signup
from tests.support.web import sign_in

pytestmark = pytest.mark.e2e

AUTH_URL = r"(http://\S+/-/web/cli/[0-9a-f]{64})"


@pytest.fixture
def browser():
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


def _spawn_in(npm, cwd, *args: str):
    cmd = npm.command(*args)
    return pexpect.spawn(
        cmd[0],
        cmd[1:],
        env=npm.base_env(),
        encoding="utf-8",
        timeout=60,
        cwd=str(cwd),
        dimensions=(50, 250),
    )


def _confirm(page, url: str, heading: str, code: str, screenshot: str | None = None) -> str:
    page.goto(url)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    if screenshot:
        shot(page, screenshot)
    page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Confirm").click()
    issued = page.locator("#web-code")
    expect(issued).to_be_visible()
    expect(page.locator("main")).to_contain_text(heading)
    return issued.inner_text().strip()


def test_npm_publish_and_dist_tag_through_the_browser(server, npm_factory, browser, tmp_path):
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, recovery = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    npm = npm_factory(server, "alice", token)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, server.url, "alice", codes.next)

    # npm publish, no --otp: npm prints the authUrl and polls; the page names the publish.
    pkg = make_package_dir(tmp_path, "@acme/web", "2.4.0")
    child = _spawn_in(npm, pkg, "publish", "--access=public")
    child.expect(AUTH_URL)
    code = _confirm(
        page, child.match.group(1), "Publish @acme/web@2.4.0", codes.next(), "cli-publish"
    )
    assert re.fullmatch(r"\d{12}", code), code
    shot(page, "cli-publish-code")
    status, out = finish(child)
    assert status == 0 and "+ @acme/web@2.4.0" in out, out
    assert npm.ok("view", "@acme/web", "version").stdout.strip() == "2.4.0"

    # npm dist-tag add: the same flow, the page names the tag and the version.
    child = _spawn_in(npm, tmp_path, "dist-tag", "add", "@acme/web@2.4.0", "beta")
    child.expect(AUTH_URL)
    _confirm(page, child.match.group(1), "Add dist-tag beta to @acme/web@2.4.0", recovery[0])
    status, out = finish(child)
    assert status == 0 and "+beta: @acme/web@2.4.0" in out, out
    tags = httpx.get(f"{server.url}/-/package/@acme%2fweb/dist-tags").json()
    assert tags["beta"] == "2.4.0"

    # npm token create (a credential change: a code in every 2FA mode).
    child = _spawn_in(npm, tmp_path, "token", "create", "--password=correct-horse-9")
    child.expect(AUTH_URL)
    _confirm(page, child.match.group(1), "Create a token", recovery[1])
    status, out = finish(child)
    assert status == 0 and "Created token npm_" in out, out

    # npm profile disable-2fa: the password on the terminal, then the page (the 2FA change
    # goes through the same second-factor rule as every other write).
    child = _spawn_in(npm, tmp_path, "profile", "disable-2fa")
    child.expect("assword")
    child.sendline("correct-horse-9")
    child.expect(AUTH_URL)
    _confirm(page, child.match.group(1), "Turn off two-factor authentication", recovery[2])
    status, out = finish(child)
    assert status == 0 and "Two factor authentication disabled" in out, out
    page.close()


def test_a_publish_code_is_refused_elsewhere_and_works_once(server, npm_factory, browser, tmp_path):
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, recovery = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    npm = npm_factory(server, "alice", token)
    first = make_package_dir(tmp_path / "a0", "pkg-a", "1.0.0")
    npm.ok("publish", f"--otp={codes.next()}", cwd=first)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, server.url, "alice", codes.next)

    # A raw challenge for publishing pkg-a@1.1.0, completed in the browser.
    challenged = http.put(
        "/pkg-a", json=publish_body("pkg-a", "1.1.0"), headers={"npm-auth-type": "web"}
    )
    assert challenged.status_code == 401 and challenged.headers["www-authenticate"] == "OTP"
    body = challenged.json()
    assert body["authUrl"] in challenged.headers["npm-notice"]
    code = _confirm(page, body["authUrl"], "Publish pkg-a@1.1.0", recovery[0])
    done = httpx.get(body["doneUrl"])
    assert done.status_code == 200 and done.json() == {"token": code}
    assert httpx.get(body["doneUrl"]).status_code == 410

    # Another package, another version, a dist-tag: refused, and the code is not spent.
    other = npm.run(
        "publish", f"--otp={code}", cwd=make_package_dir(tmp_path / "b", "pkg-b", "1.1.0")
    )
    assert other.code != 0 and "EOTP" in other.output, other.output
    later = npm.run(
        "publish", f"--otp={code}", cwd=make_package_dir(tmp_path / "a2", "pkg-a", "1.2.0")
    )
    assert later.code != 0 and "EOTP" in later.output, later.output
    tag = npm.run("dist-tag", "add", "pkg-a@1.0.0", "beta", f"--otp={code}")
    assert tag.code != 0 and "EOTP" in tag.output, tag.output
    assert "beta" not in httpx.get(f"{server.url}/-/package/pkg-a/dist-tags").json()
    assert httpx.get(f"{server.url}/pkg-b").status_code == 404

    # The publish it was made for, once.
    mine = make_package_dir(tmp_path / "a1", "pkg-a", "1.1.0")
    assert "+ pkg-a@1.1.0" in npm.ok("publish", f"--otp={code}", cwd=mine).output
    again = npm.run(
        "publish", f"--otp={code}", cwd=make_package_dir(tmp_path / "a3", "pkg-a", "1.1.0")
    )
    assert again.code != 0
    page.close()
