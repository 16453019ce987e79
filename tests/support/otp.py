"""Two-factor helpers for tests: enrol an account over HTTP and compute its codes."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlparse

import pyotp


def secret_from_url(url: str) -> str:
    assert url.startswith("otpauth://totp/"), url
    return parse_qs(urlparse(url).query)["secret"][0]


def code(secret: str, at: datetime | None = None) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(at) if at is not None else totp.now()


async def enrol(
    client,
    token: str,
    at: datetime,
    mode: str = "auth-and-writes",
    password: str = "correct-horse-9",
) -> tuple[str, list[str]]:
    """Enable 2FA through the npm profile endpoints (in-process client). Returns the
    secret and the recovery codes; the confirming code's time-step is now used."""
    headers = {"authorization": f"Bearer {token}"}
    resp = await client.post(
        "/-/npm/v1/user", json={"tfa": {"mode": mode, "password": password}}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    secret = secret_from_url(resp.json()["tfa"])
    resp = await client.post("/-/npm/v1/user", json={"tfa": [code(secret, at)]}, headers=headers)
    assert resp.status_code == 200, resp.text
    return secret, resp.json()["tfa"]


def enrol_live(
    http, mode: str = "auth-and-writes", password: str = "correct-horse-9"
) -> tuple[str, list[str]]:
    """The same against a live server with a sync httpx client that carries the token."""
    resp = http.post("/-/npm/v1/user", json={"tfa": {"mode": mode, "password": password}})
    assert resp.status_code == 200, resp.text
    secret = secret_from_url(resp.json()["tfa"])
    resp = http.post("/-/npm/v1/user", json={"tfa": [code(secret)]})
    assert resp.status_code == 200, resp.text
    return secret, resp.json()["tfa"]
