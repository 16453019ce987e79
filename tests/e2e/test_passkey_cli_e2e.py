"""`npm stage approve <id>` finished with a passkey: the real npm CLI on a pseudo-terminal
prints the authUrl, real Chromium (virtual authenticator over CDP) opens it on the
server's `public_url` (http://localhost:PORT: WebAuthn refuses IP addresses), the passkey
tap approves, and npm finishes on its own. A missing credential and a forged signature
are refused first, and nothing is approved until the real passkey is used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import add_passkey, launch, virtual_authenticator
from tests.support.otp import CodeSource, enrol_live, finish, spawn_npm
from tests.support.server import LiveServer, free_port
from tests.support.users import signup
from tests.support.web import is_live, sign_in, stage

if TYPE_CHECKING:
    from tests.support.databases import TestDatabase

pytestmark = pytest.mark.e2e


@pytest.fixture
def local_server(
    tmp_path: Path, database: TestDatabase, storage_env: dict[str, str]
) -> Iterator[LiveServer]:
    """A live server whose public URL is http://localhost:PORT (the relying party)."""
    port = free_port()
    env = {**storage_env, "AIRLOCK_PUBLIC_URL": f"http://localhost:{port}"}
    srv = LiveServer(tmp_path / "data", database.url, env=env, port=port).start()
    yield srv
    srv.stop()


def test_npm_stage_approve_with_a_passkey_on_the_auth_url(local_server, npm_factory):
    server = local_server
    base = f"http://localhost:{server.port}"
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, _ = enrol_live(http)
    codes = CodeSource(secret, current_used=True)
    sid = stage(http, "@acme/web", "6.0.0")
    npm = npm_factory(server, "alice", token)
    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        cdp, aid = virtual_authenticator(ctx, page)
        sign_in(page, base, "alice", codes.next)
        add_passkey(page, base, "Work laptop")
        creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": aid})["credentials"]
        assert len(creds) == 1 and creds[0]["rpId"] == "localhost"

        # npm with no --otp (auth-type web): it prints the authUrl and polls the doneUrl.
        child = spawn_npm(npm, "stage", "approve", sid)
        child.expect(r"(http://\S+/-/web/cli/[0-9a-f]{64})")
        auth_url = child.match.group(1)
        assert auth_url.startswith(base + "/"), auth_url
        page.goto(auth_url)
        expect(page.get_by_role("heading", name="Approve @acme/web@6.0.0")).to_be_visible()
        tap = page.get_by_role("button", name="Use a passkey")

        # The credential gone from the authenticator: the browser has nothing to offer.
        cdp.send("WebAuthn.clearCredentials", {"authenticatorId": aid})
        tap.click()
        expect(page.get_by_role("alert")).to_contain_text("The passkey did not work")
        assert not is_live(http, "@acme/web", "6.0.0")
        cdp.send("WebAuthn.addCredential", {"authenticatorId": aid, "credential": creds[0]})

        # A forged signature: the server refuses it, no code, nothing approved.
        cdp.send(
            "WebAuthn.setResponseOverrideBits",
            {"authenticatorId": aid, "isBogusSignature": True},
        )
        tap.click()
        expect(page.get_by_role("alert")).to_contain_text("passkey was refused")
        expect(page.locator("#web-code")).to_have_count(0)
        assert not is_live(http, "@acme/web", "6.0.0")
        cdp.send(
            "WebAuthn.setResponseOverrideBits",
            {"authenticatorId": aid, "isBogusSignature": False},
        )
        assert child.isalive()  # npm still polling: the refusals answered nothing

        # The real tap: a code on the page, and npm finishes by itself with the approval.
        page.get_by_role("button", name="Use a passkey").click()
        code = page.locator("#web-code").inner_text().strip()
        assert re.fullmatch(r"\d{12}", code), code
        status, out = finish(child)
        assert status == 0, out
        assert f"Staged package {sid} approved and published" in out, out
        assert is_live(http, "@acme/web", "6.0.0")
        # The authUrl was used once: it is gone now.
        assert page.goto(auth_url).status == 410
        ctx.close()
        browser.close()
    assert "6.0.0" in http.get("/@acme%2fweb").json()["versions"]
