"""Passkeys in real Chromium with its virtual authenticator (CDP WebAuthn domain), on
`localhost` (WebAuthn refuses IP addresses): add a named passkey, approve with it, a forged
signature and a sign-count regression refused, sign in with it, remove it."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import update

from airlock.db.engine import make_engine
from airlock.settings import normalise_database_url
from airlock.twofactor.webauthn import Passkey
from tests.support.browser import add_passkey, launch, shot, virtual_authenticator
from tests.support.otp import CodeSource, enrol_live
from tests.support.users import signup
from tests.support.web import is_live, sign_in, stage

pytestmark = pytest.mark.e2e


def _set_sign_count(database_url: str, count: int) -> None:
    async def run() -> None:
        engine = make_engine(normalise_database_url(database_url))
        async with engine.begin() as conn:
            await conn.execute(update(Passkey).values(sign_count=count))
        await engine.dispose()

    # Playwright's sync API owns this thread's event loop: run the update on another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def test_passkey_add_approve_refusals_sign_in_and_remove(server):
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, _ = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    first = stage(http, "@acme/web", "5.0.0")
    second = stage(http, "@acme/api", "5.0.0")
    base = f"http://localhost:{server.port}"
    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        cdp, aid = virtual_authenticator(ctx, page)
        sign_in(page, base, "alice", codes.next)
        add_passkey(page, base, "Work laptop")
        shot(page, "account")
        creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": aid})["credentials"]
        assert len(creds) == 1 and creds[0]["rpId"] == "localhost"

        # Approve with the passkey (user verification required for approvals).
        page.goto(f"{base}/-/web/stages/{first}")
        page.get_by_role("button", name="Approve with a passkey").click()
        expect(page.get_by_role("heading", name="1 of 1 approved")).to_be_visible()
        assert is_live(http, "@acme/web", "5.0.0")

        # The wrong credential: a forged signature is refused, nothing is published.
        cdp.send(
            "WebAuthn.setResponseOverrideBits",
            {"authenticatorId": aid, "isBogusSignature": True},
        )
        page.goto(f"{base}/-/web/stages/{second}")
        page.get_by_role("button", name="Approve with a passkey").click()
        expect(page.get_by_role("heading", name="Nothing was decided")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("passkey was refused")
        assert not is_live(http, "@acme/api", "5.0.0")
        cdp.send(
            "WebAuthn.setResponseOverrideBits",
            {"authenticatorId": aid, "isBogusSignature": False},
        )
        # A sign count that does not grow (a cloned authenticator) is refused too.
        _set_sign_count(server.database_url, 10_000)
        page.goto(f"{base}/-/web/stages/{second}")
        page.get_by_role("button", name="Approve with a passkey").click()
        expect(page.get_by_role("alert")).to_contain_text("passkey was refused")
        assert not is_live(http, "@acme/api", "5.0.0")
        _set_sign_count(server.database_url, 0)
        # Without user verification the browser itself refuses (UV is required).
        cdp.send("WebAuthn.setUserVerified", {"authenticatorId": aid, "isUserVerified": False})
        page.goto(f"{base}/-/web/stages/{second}")
        page.get_by_role("button", name="Approve with a passkey").click()
        expect(page.get_by_role("alert")).to_contain_text("The passkey did not work")
        assert not is_live(http, "@acme/api", "5.0.0")
        cdp.send("WebAuthn.setUserVerified", {"authenticatorId": aid, "isUserVerified": True})

        # Sign in with the password, then the passkey.
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("correct-horse-9")
        page.get_by_role("button", name="Sign in").click()
        # The second-factor page must have replaced the form before the screenshot: a
        # capture during the navigation fails ("Unable to capture screenshot").
        use_passkey = page.get_by_role("button", name="Use a passkey")
        expect(use_passkey).to_be_visible()
        shot(page, "sign-in-passkey")
        use_passkey.click()
        expect(page.get_by_role("heading", name="Staged versions")).to_be_visible()
        page.get_by_label("Select @acme/api@5.0.0").check()
        page.get_by_role("button", name="Approve with a passkey").click()
        expect(page.get_by_role("heading", name="1 of 1 approved")).to_be_visible()
        assert is_live(http, "@acme/api", "5.0.0")

        page.goto(base + "/-/web/account")
        page.get_by_role("button", name="Remove Work laptop").click()
        expect(page.get_by_text("No passkeys yet")).to_be_visible()
        ctx.close()
        browser.close()


def test_passkey_challenges_are_single_use(server):
    signup(server.url, "alice")
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        sign_in(page, f"http://localhost:{server.port}", "alice")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        base = f"http://localhost:{server.port}/-/web"
        # No passkey yet: asking for an assertion is a clear 400, not a 500.
        resp = page.request.post(base + "/passkey/options", form={"csrf": csrf})
        assert resp.status == 400 and "no passkey" in resp.json()["error"]
        # A registration with a made-up response and handle changes nothing.
        resp = page.request.post(
            base + "/account/passkeys",
            form={"csrf": csrf, "label": "x", "passkey_handle": "0" * 64, "passkey_response": "{}"},
        )
        assert resp.status == 400 and "expired or was already used" in resp.text()
        page.goto(base + "/account")
        assert re.search("No passkeys yet", page.content())
        browser.close()
