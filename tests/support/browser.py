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
    page.screenshot(path=str(SHOTS / f"{name}.png"))
