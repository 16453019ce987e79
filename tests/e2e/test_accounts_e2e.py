"""Accounts through the real npm CLI."""

from __future__ import annotations

from tests.support.users import signup


def test_whoami_and_logout_with_the_npm_cli(server, npm_factory):
    token = signup(server.url, "alice")
    npm = npm_factory(server, "alice", token)
    assert npm.ok("whoami").stdout.strip() == "alice"
    npm.ok("logout")
    # The token is revoked on the server, not only forgotten locally.
    resp = server.client(token).get("/-/whoami")
    assert resp.status_code == 401
    assert "revoked" in resp.json()["error"]
