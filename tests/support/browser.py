"""Debian's Chromium driven by Playwright (no browser download: the system binary).

The Makefile installs `chromium` with apt-get when /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"


def launch(playwright):
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: run `make chromium` (apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


def shot(page, name: str) -> None:
    """Keep the latest screenshot of a page for docs/ (1280x800 viewport)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    # Never capture a page that is still loading (the capture fails mid-navigation).
    page.wait_for_load_state("load")
    page.screenshot(path=str(SHOTS / f"{name}.png"))


# Chromium's virtual authenticator (CDP WebAuthn domain): a platform passkey with user
# verification, tapped automatically.
AUTHENTICATOR = {
    "protocol": "ctap2",
    "ctap2Version": "ctap2_1",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def virtual_authenticator(ctx, page):
    """(CDP session, authenticator id) of a virtual authenticator for this page."""
    cdp = ctx.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    aid = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return cdp, aid["authenticatorId"]


def add_passkey(page, base_url: str, label: str) -> None:
    """Register a passkey on the account page (signed in already)."""
    from playwright.sync_api import expect

    page.goto(base_url + "/-/web/account")
    page.get_by_label("Passkey name").fill(label)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("table").last).to_contain_text(label)
