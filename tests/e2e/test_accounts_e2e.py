"""Accounts through the real npm CLI: adduser, login (legacy and web fallback), whoami,
logout, closed sign-up, wrong passwords."""

from __future__ import annotations

import httpx

from tests.support.otp import finish, spawn_npm
from tests.support.users import signup

PW = "correct-horse-9"


def prompt_login(
    npm, *args: str, name: str = "alice", password: str = PW, email: str | None = None
):
    child = spawn_npm(npm, *args)
    child.expect("Username:")
    child.sendline(name)
    child.expect("Password:")
    child.sendline(password)
    if email is not None:
        child.expect("Email")
        child.sendline(email)
    return child


def test_whoami_and_logout_with_the_npm_cli(server, npm_factory):
    token = signup(server.url, "alice")
    npm = npm_factory(server, "alice", token)
    assert npm.ok("whoami").stdout.strip() == "alice"
    npm.ok("logout")
    # The token is revoked on the server, not only forgotten locally.
    resp = server.client(token).get("/-/whoami")
    assert resp.status_code == 401
    assert "revoked" in resp.json()["error"]


def test_adduser_then_legacy_login_through_the_prompts(server, npm_factory):
    npm = npm_factory(server, "alice")
    child = prompt_login(npm, "adduser", "--auth-type=legacy", email="alice@example.com")
    code, out = finish(child)
    assert code == 0, out
    assert npm.ok("whoami").stdout.strip() == "alice"
    npm.ok("logout")
    assert npm.run("whoami").code != 0

    child = prompt_login(npm, "login", "--auth-type=legacy")
    code, out = finish(child)
    assert code == 0 and "Logged in" in out, out
    assert npm.ok("whoami").stdout.strip() == "alice"

    # A wrong password: npm shows its password message, nothing is saved.
    other = npm_factory(server, "mallory")
    code, out = finish(
        prompt_login(other, "login", "--auth-type=legacy", password="wrong-password")
    )
    assert code != 0 and "Incorrect or missing password" in out, out
    assert other.run("whoami").code != 0


def test_plain_npm_login_uses_the_web_flow(server, npm_factory):
    # Completed in Chromium by tests/e2e/test_web_cli_e2e.py; here only the printed URL.
    signup(server.url, "alice")
    npm = npm_factory(server, "alice")
    child = spawn_npm(npm, "login")
    child.expect(r"Login at:\s+http://\S+/-/web/login/[0-9a-f]{64}")
    child.terminate(force=True)


def test_login_as_unknown_user_says_so(server, npm_factory):
    npm = npm_factory(server, "ghost")
    code, out = finish(prompt_login(npm, "login", "--auth-type=legacy", name="ghost"))
    assert code != 0 and 'There is no user with the username "ghost"' in out, out


def test_closed_signup_refuses_adduser_but_operators_create_users(server_factory, npm_factory):
    server = server_factory(env={"AIRLOCK_OPEN_SIGNUP": "false"})
    npm = npm_factory(server, "bob")
    child = prompt_login(npm, "adduser", "--auth-type=legacy", name="bob", email="bob@example.com")
    code, out = finish(child)
    assert code != 0 and "Sign-up is closed" in out, out

    made = server.cli("user", "create", "bob", "--password-stdin", input=f"{PW}\n")
    assert made.returncode == 0, made.stderr
    code, out = finish(prompt_login(npm, "login", "--auth-type=legacy", name="bob"))
    assert code == 0, out
    assert npm.ok("whoami").stdout.strip() == "bob"


def test_wrong_password_is_401_basic_over_http(server):
    signup(server.url, "alice")
    body = {"name": "alice", "password": "wrong-password", "type": "user"}
    resp = httpx.put(f"{server.url}/-/user/org.couchdb.user:alice", json=body)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Basic"
    assert resp.json()["error"] == "Incorrect username or password."
