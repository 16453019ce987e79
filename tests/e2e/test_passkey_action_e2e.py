"""`npm publish` on an auth-and-writes account finished with a passkey: the real npm CLI on
a pseudo-terminal prints the authUrl, real Chromium (virtual authenticator over CDP) opens
the write-action page on the server's `public_url` (http://localhost:PORT: WebAuthn
refuses IP addresses), the passkey tap mints the action-bound code, and npm finishes the
publish on its own. A forged signature is refused first and publishes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pexpect
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import add_passkey, launch, virtual_authenticator
from tests.support.otp import CodeSource, enrol_live, finish
from tests.support.packages import make_package_dir
from tests.support.server import LiveServer, free_port
from tests.support.users import signup
from tests.support.web import sign_in

if TYPE_CHECKING:
    from tests.support.databases import TestDatabase

pytestmark = pytest.mark.e2e

AUTH_URL = r"(http://\S+/-/web/cli/[0-9a-f]{64})"


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


def _spawn_in(npm, cwd: Path, *args: str) -> pexpect.spawn:
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


def _versions(http) -> dict:
    resp = http.get("/@acme%2fweb")
    return resp.json().get("versions", {}) if resp.status_code == 200 else {}


def test_npm_publish_with_a_passkey_on_the_auth_url(local_server, npm_factory, tmp_path):
    server = local_server
    base = f"http://localhost:{server.port}"
    token = signup(server.url, "alice")
    http = server.client(token)
    secret, _ = enrol_live(http)  # auth-and-writes: a publish needs a second factor
    codes = CodeSource(secret, current_used=True)
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

        # npm publish with no --otp (auth-type web): it prints the authUrl and polls.
        pkg = make_package_dir(tmp_path, "@acme/web", "3.1.0")
        child = _spawn_in(npm, pkg, "publish", "--access=public")
        child.expect(AUTH_URL)
        auth_url = child.match.group(1)
        assert auth_url.startswith(base + "/"), auth_url
        page.goto(auth_url)
        expect(page.get_by_role("heading", name="Publish @acme/web@3.1.0")).to_be_visible()
        tap = page.get_by_role("button", name="Use a passkey")

        # A forged signature: the server refuses it, no code, nothing published.
        cdp.send(
            "WebAuthn.setResponseOverrideBits",
            {"authenticatorId": aid, "isBogusSignature": True},
        )
        tap.click()
        expect(page.get_by_role("alert")).to_contain_text("passkey was refused")
        expect(page.locator("#web-code")).to_have_count(0)
        cdp.send(
            "WebAuthn.setResponseOverrideBits",
            {"authenticatorId": aid, "isBogusSignature": False},
        )
        assert child.isalive()  # npm still polling: the refusal answered nothing
        assert "3.1.0" not in _versions(http)

        # The real tap: the action-bound code on the page, and npm publishes by itself.
        page.get_by_role("button", name="Use a passkey").click()
        issued = page.locator("#web-code")
        expect(issued).to_be_visible()
        expect(page.locator("main")).to_contain_text("Publish @acme/web@3.1.0")
        code = issued.inner_text().strip()
        assert re.fullmatch(r"\d{12}", code), code
        status, out = finish(child)
        assert status == 0 and "+ @acme/web@3.1.0" in out, out
        # The authUrl was used once: it is gone now.
        assert page.goto(auth_url).status == 410
        ctx.close()
        browser.close()
    assert "3.1.0" in _versions(http)
    assert npm.ok("view", "@acme/web", "version").stdout.strip() == "3.1.0"
