"""npm's browser flows end to end: the real npm CLI on a pseudo-terminal prints the URL,
real Chromium completes it, and npm finishes on its own.

- `npm login` (auth-type web, npm's default): loginUrl -> sign-in with TOTP -> token;
- `npm stage approve <id>` (web 2FA): authUrl page ticks a second stage, one ceremony,
  the code approves exactly the ticked ids, once each (`--otp=CODE` for the second one);
- the doneUrl as a capability: 202 + Retry-After, then the code once, then 410.
"""

from __future__ import annotations

import re

import httpx
import pexpect
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch, shot
from tests.support.otp import CodeSource, enrol_live, finish, spawn_npm
from tests.support.users import signup
from tests.support.web import is_live, sign_in, stage

pytestmark = pytest.mark.e2e

AUTH_URL = r"(http://\S+/-/web/cli/[0-9a-f]{64})"


@pytest.fixture
def browser():
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


def test_npm_login_and_stage_approve_through_the_browser(server, npm_factory, browser):
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, recovery = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    web = stage(http, "@acme/web", "2.4.0")
    api = stage(http, "@acme/api", "2.4.0")
    cli = stage(http, "@acme/cli", "2.4.0")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()

    # npm login, web flow: the URL goes to sign-in (password, then code), then confirm.
    npm = npm_factory(server, "alice")
    child = spawn_npm(npm, "login")
    child.expect(r"Login at:\s+(http://\S+)")
    login_url = child.match.group(1)
    assert re.search(r"/-/web/login/[0-9a-f]{64}$", login_url), login_url
    page.goto(login_url)
    expect(page).to_have_url(re.compile(r"/-/web/sign-in\?next=/-/web/login/"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("One-time code").fill(codes.next())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Log in npm as alice?")).to_be_visible()
    shot(page, "npm-login")
    page.get_by_role("button", name="Log in npm").click()
    expect(page.get_by_role("heading", name="npm is logged in")).to_be_visible()
    child.expect("Logged in on")
    status, out = finish(child)
    assert status == 0, out
    assert npm.ok("whoami").stdout.strip() == "alice"

    # npm stage approve <id> with no --otp: npm prints the authUrl and polls the doneUrl.
    child = spawn_npm(npm, "stage", "approve", web)
    child.expect(AUTH_URL)
    page.goto(child.match.group(1))
    expect(page.get_by_role("heading", name="Approve @acme/web@2.4.0")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Staged by alice")
    expect(page.locator("main")).to_contain_text("Install scripts: none")
    page.get_by_label(re.compile("@acme/api@2.4.0")).check()
    shot(page, "cli-approve")
    page.get_by_label("One-time code").fill(codes.next())
    page.get_by_role("button", name="Approve").click()
    code = page.locator("#web-code").inner_text().strip()
    assert re.fullmatch(r"\d{12}", code), code
    shot(page, "cli-code")
    status, out = finish(child)
    assert status == 0, out
    assert is_live(http, "@acme/web", "2.4.0")

    # The same code approves the other ticked stage, nothing else.
    assert npm.run("stage", "reject", api, f"--otp={code}").code != 0  # approve only
    npm.ok("stage", "approve", api, f"--otp={code}")
    assert is_live(http, "@acme/api", "2.4.0")
    outside = npm.run("stage", "approve", cli, f"--otp={code}")
    assert outside.code != 0 and "EOTP" in outside.output, outside.output
    assert not is_live(http, "@acme/cli", "2.4.0")

    # The doneUrl: a capability (no authorization), 202 while pending, the code once, 410.
    challenged = http.post(f"/-/stage/{cli}/approve", headers={"npm-auth-type": "web"})
    assert challenged.status_code == 401
    assert challenged.headers["www-authenticate"] == "OTP"
    body = challenged.json()
    assert body["authUrl"] in challenged.headers["npm-notice"]
    pending = httpx.get(body["doneUrl"])
    assert pending.status_code == 202 and pending.headers["retry-after"] == "2"
    assert httpx.get(f"{server.url}/-/v1/done?authId={'0' * 64}").status_code == 404
    assert httpx.get(f"{server.url}/-/v1/done?authId=nope").status_code == 404
    # --otp (npm-auth-type legacy) gets the classic prompt, no URLs.
    legacy = http.post(f"/-/stage/{cli}/approve", headers={"npm-auth-type": "legacy"})
    assert legacy.status_code == 401 and "authUrl" not in legacy.json()
    page.goto(body["authUrl"])
    page.get_by_label("One-time code").fill(recovery[0])
    page.get_by_role("button", name="Approve").click()
    shown = page.locator("#web-code").inner_text().strip()
    done = httpx.get(body["doneUrl"])
    assert done.status_code == 200 and done.json() == {"token": shown}
    assert httpx.get(body["doneUrl"]).status_code == 410
    # The used authUrl page is gone too.
    assert page.goto(body["authUrl"]).status == 410
    assert not is_live(http, "@acme/cli", "2.4.0")
    ok = http.post(f"/-/stage/{cli}/approve", headers={"npm-otp": shown})
    assert ok.status_code == 201, ok.text
    replay = http.post(f"/-/stage/{cli}/approve", headers={"npm-otp": shown})
    assert replay.status_code in (404, 409)
    ctx.close()


def test_someone_elses_auth_url_is_not_found(server, browser):
    alice = server.client(signup(server.url, "alice"))
    enrol_live(alice)
    signup(server.url, "bob")
    sid = stage(alice, "alice-pkg", "1.0.0")
    body = alice.post(f"/-/stage/{sid}/approve", headers={"npm-auth-type": "web"}).json()
    page = browser.new_page()
    sign_in(page, server.url, "bob")
    assert page.goto(body["authUrl"]).status == 404
    assert page.goto(f"{server.url}/-/web/cli/{'a' * 64}").status == 404
    assert httpx.get(body["doneUrl"]).status_code == 202  # still pending for alice
    page.close()


def test_npm_adduser_web_goes_to_sign_up(server, npm_factory, browser):
    npm = npm_factory(server, "dave")
    child = spawn_npm(npm, "adduser")
    child.expect(r"(http://\S+/-/web/login/[0-9a-f]{64})")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(child.match.group(1))
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Username").fill("dave")
    page.get_by_label("Email").fill("dave@example.com")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("button", name="Log in npm").click()
    child.expect("Logged in on")
    child.expect(pexpect.EOF)
    assert npm.ok("whoami").stdout.strip() == "dave"
    page.close()


def test_pnpm_stage_approve_three_ids_with_one_batch_code(server, npm_factory, browser):
    from tests.support.pnpm12 import spawn_pnpm

    token = signup(server.url, "alice")
    http = server.client(token)
    secret, _ = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    names = ["@acme/web", "@acme/api", "@acme/cli"]
    ids = [stage(http, name, "3.0.0") for name in names]
    npm = npm_factory(server, "alice", token)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, server.url, "alice", codes.next)

    child = spawn_pnpm(npm, "stage", "approve", *ids)
    child.expect(AUTH_URL)
    page.goto(child.match.group(1))
    for name in names[1:]:
        page.get_by_label(re.compile(f"{name}@3.0.0")).check()
    page.get_by_label("One-time code").fill(codes.next())
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#web-code")).to_be_visible()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    for name in names:
        assert is_live(http, name, "3.0.0"), name
    page.close()
