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


class CodeSource:
    """Fresh codes for a live server (real clock): each code is accepted once per account, so
    hand out strictly increasing time-steps, using the +1 step of the window before waiting."""

    def __init__(self, secret: str, *, current_used: bool = False) -> None:
        import time

        self.secret = secret
        # After enrol_live (which confirmed with the current code) that step is spent.
        self.last_step = int(time.time()) // 30 if current_used else -1

    def next(self) -> str:
        import time

        while True:
            now = int(time.time()) // 30
            for step in (now, now + 1):
                if step > self.last_step:
                    self.last_step = step
                    return pyotp.TOTP(self.secret).generate_otp(step)
            time.sleep(1)


def spawn_npm(npm, *args: str, timeout: float = 60):
    """npm on a pseudo-terminal, for the prompts it only shows on a TTY."""
    import pexpect

    cmd = npm.command(*args)
    return pexpect.spawn(
        cmd[0],
        cmd[1:],
        env=npm.base_env(),
        encoding="utf-8",
        timeout=timeout,
        cwd=str(npm.home),
        dimensions=(50, 250),
    )


def finish(child) -> tuple[int, str]:
    """Wait for the end; the exit status and everything printed after the last expect."""
    import pexpect

    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before
