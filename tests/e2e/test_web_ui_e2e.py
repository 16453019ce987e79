"""The reviewer's browser (real Chromium through Playwright against a live server):
sign-in with password then TOTP, the staged queue, a stage page, batch approval with one
code, and the refusals (CSRF-less post, someone else's stage, wrong password throttling)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch, shot
from tests.support.otp import CodeSource, enrol_live
from tests.support.users import signup
from tests.support.web import is_live, sign_in, stage

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser():
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


def test_sign_in_queue_stage_page_and_batch_approval(server, browser):
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, recovery = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    web = stage(http, "@acme/web", "2.4.0", tarball=None)
    api = stage(http, "@acme/api", "2.4.0")
    cli = stage(http, "@acme/cli", "2.4.0", tag="next")

    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(server.url + "/-/web/stages")
    expect(page).to_have_url(re.compile(r"/-/web/sign-in\?next="))
    headers = page.request.get(server.url + "/-/web/sign-in").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    shot(page, "sign-in")
    before = {c["name"]: c["value"] for c in ctx.cookies()}["airlock_session"]
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("One-time code")).to_be_visible()
    shot(page, "sign-in-code")
    page.get_by_label("One-time code").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    page.get_by_label("One-time code").fill(codes.next())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Staged versions")).to_be_visible()
    cookie = next(c for c in ctx.cookies() if c["name"] == "airlock_session")
    # A new session id at sign-in; HttpOnly and SameSite=Lax.
    assert cookie["value"] != before and cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(3)
    # Newest first.
    expect(rows.nth(0)).to_contain_text("@acme/cli@2.4.0")
    expect(rows.nth(0)).to_contain_text("next")
    expect(rows.nth(2)).to_contain_text("@acme/web@2.4.0")
    expect(rows.nth(0)).to_contain_text("Install scripts: none")
    shot(page, "queue")

    # The stage page: details, files with sizes, download link.
    page.get_by_role("link", name="@acme/cli@2.4.0").click()
    expect(page.get_by_role("heading", name=re.compile("acme.cli"))).to_be_visible()
    expect(page.locator("table.files")).to_contain_text("package.json")
    expect(page.locator("table.files")).to_contain_text("index.js")
    shot(page, "stage")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download").click()
    assert dl.value.suggested_filename == f"acme-cli-2.4.0-{cli}.tgz"

    # A form post without the CSRF token changes nothing.
    refused = page.request.post(
        server.url + "/-/web/stages/decide",
        form={"stage": web, "decision": "approve", "code": recovery[0]},
    )
    assert refused.status == 403 and "did not come from this site" in refused.text()
    assert not is_live(http, "@acme/web", "2.4.0")

    # Tick two, one code, Approve: exactly those two go live.
    page.goto(server.url + "/-/web/stages")
    page.get_by_label("Select @acme/web@2.4.0").check()
    page.get_by_label("Select @acme/api@2.4.0").check()
    # A recovery code is a second factor too (and needs no wait for the next TOTP step).
    page.get_by_label("One-time code").fill(recovery[0])
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="2 of 2 approved")).to_be_visible()
    shot(page, "decided")
    assert is_live(http, "@acme/web", "2.4.0") and is_live(http, "@acme/api", "2.4.0")
    assert not is_live(http, "@acme/cli", "2.4.0")
    assert http.get(f"/-/stage/{api}").status_code == 404  # no longer staged
    assert http.get(f"/-/stage/{cli}").status_code == 200

    # Reject from the stage page.
    page.goto(f"{server.url}/-/web/stages/{cli}")
    page.get_by_label("One-time code").fill(recovery[1])
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="1 of 1 rejected")).to_be_visible()
    assert http.get(f"/-/stage/{cli}").status_code == 404

    page.goto(server.url + "/-/web/stages")
    expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()
    shot(page, "queue-empty")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(server.url + "/-/web/stages")
    expect(page).to_have_url(re.compile(r"/-/web/sign-in"))
    ctx.close()


def test_someone_elses_stage_is_not_found_and_sign_in_is_throttled(server_factory, browser):
    server = server_factory(env={"AIRLOCK_WEB_SIGNIN_MAX_FAILURES": "3"})
    alice = server.client(signup(server.url, "alice"))
    signup(server.url, "bob")
    theirs = stage(alice, "alice-only", "1.0.0")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    sign_in(page, server.url, "bob")
    expect(page.get_by_role("heading", name="Staged versions")).to_be_visible()
    resp = page.goto(f"{server.url}/-/web/stages/{theirs}")
    assert resp.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert page.goto(f"{server.url}/-/web/stages/{theirs}/tarball").status == 404
    assert page.goto(f"{server.url}/-/web/stages/not-a-uuid").status == 400
    shot(page, "not-found")
    page.get_by_role("button", name="Sign out").click()

    for _ in range(3):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Incorrect username or password")
    # The limit is reached: even the right password waits now.
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    ctx.close()


def test_sign_up_when_open_and_closed(server_factory, browser, tmp_path):
    server = server_factory()
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(server.url + "/-/web/sign-up")
    shot(page, "sign-up")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Email").fill("carol@example.com")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("link", name="carol")).to_be_visible()
    assert (
        httpx.put(
            f"{server.url}/-/user/org.couchdb.user:carol",
            json={"name": "carol", "password": "correct-horse-9"},
        ).status_code
        == 201
    )
    ctx.close()
    closed = server_factory(env={"AIRLOCK_OPEN_SIGNUP": "false"}, data=tmp_path / "closed-data")
    page = browser.new_page()
    assert page.goto(closed.url + "/-/web/sign-up").status == 404
    page.close()
