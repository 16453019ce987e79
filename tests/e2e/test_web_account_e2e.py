"""Account pages in Chromium: tokens (create stage-only and package-limited, shown once,
revoke) and browser sessions (list, end another one)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch, shot
from tests.support.packages import publish_body
from tests.support.users import signup
from tests.support.web import sign_in

pytestmark = pytest.mark.e2e


def test_tokens_and_sessions(server):
    signup(server.url, "alice")
    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        sign_in(page, server.url, "alice")
        page.goto(server.url + "/-/web/account/tokens")
        page.get_by_label("Token name").fill("ci-release")
        page.get_by_label("Permission").select_option("stage-only")
        page.get_by_label(re.compile("^Packages")).fill("@acme/*")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_role("alert")).to_contain_text("password")
        expect(page.locator("table")).not_to_contain_text("granular")  # nothing was made
        page.get_by_label("Token name").fill("ci-release")
        page.get_by_label("Permission").select_option("stage-only")
        page.get_by_label(re.compile("^Packages")).fill("@acme/*")
        page.get_by_label("Password").fill("correct-horse-9")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator("#new-token").inner_text().strip()
        expect(page.locator("table")).to_contain_text("stage-only")
        expect(page.locator("table")).to_contain_text("@acme")
        shot(page, "tokens")
        ci = httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {secret}"})
        assert ci.get("/-/whoami").json() == {"username": "alice"}
        staged = ci.post(
            "/-/stage/package/@acme%2fweb", json=publish_body("@acme/web", "1.0.0", access="public")
        )
        assert staged.status_code == 201, staged.text
        published = ci.put("/@acme%2fweb", json=publish_body("@acme/web", "1.0.1"))
        assert published.status_code == 403  # stage-only
        outside = ci.post("/-/stage/package/other", json=publish_body("other", "1.0.0"))
        assert outside.status_code == 403  # package-limited
        # The secret is not shown again.
        page.goto(server.url + "/-/web/account/tokens")
        assert secret not in page.content()
        page.get_by_role("button", name="Revoke ci-release").click()
        expect(page.locator("main")).not_to_contain_text("ci-release")
        import time

        time.sleep(5.5)  # the per-process token cache (auth_cache_seconds)
        assert ci.get("/-/whoami").status_code == 401

        # Sessions: a second browser signs in; the first ends it.
        other = browser.new_context()
        second = other.new_page()
        sign_in(second, server.url, "alice")
        page.goto(server.url + "/-/web/account")
        expect(page.locator("main")).to_contain_text("this one")
        page.get_by_role("button", name="End session").click()
        second.goto(server.url + "/-/web/stages")
        expect(second).to_have_url(re.compile("/-/web/sign-in"))
        browser.close()


def test_enable_two_factor_with_qr_code_recovery_codes_once_then_disable(server):
    from tests.support.otp import CodeSource

    signup(server.url, "alice")
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, server.url, "alice")
        page.goto(server.url + "/-/web/account/2fa")
        page.get_by_label("Password").fill("correct-horse-9")
        page.get_by_role("button", name="Enable two-factor authentication").click()
        qr = page.get_by_role("img", name="QR code for your authenticator app")
        assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")
        assert qr.evaluate("img => img.naturalWidth") > 0
        shot(page, "two-factor-enrol")
        codes = CodeSource(page.locator("#totp-secret").inner_text().strip())
        page.get_by_label("One-time code").fill("000000")
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("alert")).to_be_visible()
        page.get_by_label("One-time code").fill(codes.next())
        page.get_by_role("button", name="Confirm").click()
        recovery = page.locator("#recovery-codes li")
        expect(recovery).to_have_count(10)
        first = recovery.first.inner_text()
        shot(page, "two-factor-recovery")
        page.goto(server.url + "/-/web/account/2fa")
        assert first not in page.content()  # shown once
        expect(page.locator("main")).to_contain_text("auth-and-writes")
        page.get_by_label("Password").fill("correct-horse-9")
        page.get_by_label("One-time code").fill(first)
        page.get_by_role("button", name="Disable two-factor authentication").click()
        expect(page.locator(".notice")).to_contain_text("off")
        browser.close()
