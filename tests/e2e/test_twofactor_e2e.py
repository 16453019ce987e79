"""Two-factor authentication through the real npm CLI: enable-2fa, the OTP challenge
(--otp and the interactive prompt), profile get/set, disable-2fa, login with a code."""

from __future__ import annotations

import re

import httpx

from tests.support.otp import CodeSource, enrol_live, finish, spawn_npm
from tests.support.packages import make_package_dir
from tests.support.users import signup

PW = "correct-horse-9"


def enable_2fa(npm, mode: str) -> tuple[CodeSource, list[str]]:
    child = spawn_npm(npm, "profile", "enable-2fa", mode)
    child.expect("assword")
    child.sendline(PW)
    child.expect(r"Or enter code: ([A-Z2-7]+)")
    codes = CodeSource(child.match.group(1))
    child.expect("authenticator:")
    child.sendline(codes.next())
    status, out = finish(child)
    assert status == 0, out
    recovery = re.findall(r"\b[0-9a-f]{64}\b", out)
    assert len(recovery) == 10, out
    return codes, recovery


def test_enable_2fa_then_every_write_needs_a_code_then_disable(server, npm_factory, tmp_path):
    npm = npm_factory(server, "alice", signup(server.url, "alice"))
    laptop = npm_factory(server, "laptop", signup(server.url, "alice"))
    codes, recovery = enable_2fa(npm, "auth-and-writes")
    assert "two-factor auth: auth-and-writes" in npm.ok("profile", "get").stdout
    # Enabling the same mode again: npm sees it is already on and stops.
    assert "already enabled" in npm.run("profile", "enable-2fa", "auth-and-writes").output

    pkg = make_package_dir(tmp_path, "pkg-a", "1.0.0")
    refused = npm.run("publish", cwd=pkg)
    assert refused.code != 0 and "one-time password" in refused.output
    assert npm.run("view", "pkg-a").code != 0  # nothing was published

    used = codes.next()
    assert "+ pkg-a@1.0.0" in npm.ok("publish", f"--otp={used}", cwd=pkg).output
    # The same code from another login (here: another laptop's session) is a replay.
    pkg2 = make_package_dir(tmp_path, "pkg-a", "1.0.1")
    replay = laptop.run("publish", f"--otp={used}", cwd=pkg2)
    assert replay.code != 0 and "one-time password" in replay.output
    # npm's own prompt on a terminal (a recovery code works there too); the default,
    # auth-type web, goes through the browser (test_web_2fa_writes_e2e.py).
    child = _spawn_in(npm, pkg2, "publish", "--auth-type=legacy")
    child.expect("Enter OTP:")
    child.sendline(recovery[0])
    status, out = finish(child)
    assert status == 0 and "+ pkg-a@1.0.1" in out, out

    # dist-tag and token create are writes too.
    assert npm.run("dist-tag", "add", "pkg-a@1.0.0", "stable").code != 0
    npm.ok("dist-tag", "add", "pkg-a@1.0.0", "stable", f"--otp={recovery[2]}")
    assert npm.run("token", "create", f"--password={PW}").code != 0
    made = npm.ok("token", "create", f"--password={PW}", f"--otp={recovery[1]}")
    assert "Created token npm_" in made.output

    child = spawn_npm(npm, "profile", "disable-2fa", "--auth-type=legacy")
    child.expect("assword")
    child.sendline(PW)
    child.expect("Enter OTP:")
    child.sendline(codes.next())
    status, out = finish(child)
    assert status == 0 and "Two factor authentication disabled" in out, out
    assert "two-factor auth: disabled" in npm.ok("profile", "get").stdout
    pkg3 = make_package_dir(tmp_path, "pkg-a", "1.0.2")
    npm.ok("publish", cwd=pkg3)


def _spawn_in(npm, cwd, *args: str):
    import pexpect

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


def test_auth_only_asks_for_a_code_at_login_but_not_for_publishing(server, npm_factory, tmp_path):
    token = signup(server.url, "alice")
    secret, _ = enrol_live(server.client(token), mode="auth-only")
    codes = CodeSource(secret, current_used=True)
    npm = npm_factory(server, "alice")
    child = spawn_npm(npm, "login", "--auth-type=legacy")
    child.expect("Username:")
    child.sendline("alice")
    child.expect("Password:")
    child.sendline(PW)
    child.expect("Enter OTP:")
    child.sendline(codes.next())
    status, out = finish(child)
    assert status == 0 and "Logged in" in out, out
    pkg = make_package_dir(tmp_path, "pkg-b", "1.0.0")
    npm.ok("publish", cwd=pkg)
    # Without a TTY and without --otp, login is an EOTP error.
    other = npm_factory(server, "alice2")
    body = {"name": "alice", "password": PW, "type": "user"}
    resp = httpx.put(f"{server.url}/-/user/org.couchdb.user:alice", json=body)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert other.run("whoami").code != 0


def test_profile_set_fields_and_password_change_with_2fa(server, npm_factory):
    token = signup(server.url, "alice")
    npm = npm_factory(server, "alice", token)
    npm.ok("profile", "set", "fullname", "Alice Example")
    assert "Alice Example" in npm.ok("profile", "get").stdout
    secret, recovery = enrol_live(server.client(token))
    codes = CodeSource(secret, current_used=True)
    assert npm.run("profile", "set", "email", "a2@example.com").code != 0
    out = npm.ok("profile", "set", "email", "a2@example.com", f"--otp={codes.next()}")
    assert "Set email to a2@example.com" in out.output
    assert "a2@example.com" in npm.ok("profile", "get").stdout

    child = spawn_npm(npm, "profile", "set", "password", "--auth-type=legacy")
    child.expect("urrent password")
    child.sendline(PW)
    child.expect("ew password")
    child.sendline("battery-staple-7")
    child.expect("Again:")
    child.sendline("battery-staple-7")
    child.expect("Enter OTP:")
    child.sendline(recovery[0])
    status, out = finish(child)
    assert status == 0, out
    body = {"name": "alice", "password": "battery-staple-7", "type": "user"}
    resp = httpx.put(f"{server.url}/-/user/org.couchdb.user:alice", json=body)
    # The new password is right: the only thing missing is the second factor.
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"


def test_auth_and_writes_challenges_deprecate_owner_unpublish_and_token_revoke(
    server, npm_factory, tmp_path
):
    token = signup(server.url, "alice")
    signup(server.url, "bob")
    npm = npm_factory(server, "alice", token)
    npm.ok("publish", cwd=make_package_dir(tmp_path, "pkg-w", "1.0.0"))
    npm.ok("publish", cwd=make_package_dir(tmp_path, "pkg-w", "1.0.1"))
    made = npm.ok("token", "create", f"--password={PW}").output
    extra = re.search(r"Created token (\S+)", made).group(1)
    _, recovery = enrol_live(server.client(token))
    steps = [
        ("deprecate", "pkg-w@1.0.0", "old"),
        ("owner", "add", "bob", "pkg-w"),
        ("unpublish", "pkg-w@1.0.1"),
        ("token", "revoke", extra),
    ]
    for step, code in zip(steps, recovery, strict=False):
        refused = npm.run(*step)
        assert refused.code != 0, (step, refused.output)
        # npm owner rewraps the challenge as EOWNERMUTATE "OTP required for authentication".
        assert re.search("one-time password|OTP required", refused.output), refused.output
        npm.ok(*step, f"--otp={code}")
    view = server.client().get("/pkg-w").json()
    assert view["versions"]["1.0.0"]["deprecated"] == "old"
    assert "1.0.1" not in view["versions"]
    assert {m["name"] for m in view["maintainers"]} == {"alice", "bob"}
    assert server.client(extra).get("/-/whoami").status_code == 401


def test_rotating_the_secret_key_keeps_2fa_working(server_factory):
    old, new = "first-secret-key-" + "a" * 20, "second-secret-key-" + "b" * 20
    server = server_factory(env={"AIRLOCK_SECRET_KEY": old})
    token = signup(server.url, "alice")
    secret, _ = enrol_live(server.client(token))
    codes = CodeSource(secret, current_used=True)
    server.stop()

    server.env = {"AIRLOCK_SECRET_KEY": new, "AIRLOCK_OLD_SECRET_KEYS": f'["{old}"]'}
    rotated = server.cli("rotate-secrets")
    assert rotated.returncode == 0 and "re-encrypted 1" in rotated.stderr, rotated.stderr

    # Only the new key from now on: the re-encrypted secret still verifies codes.
    server.env = {"AIRLOCK_SECRET_KEY": new}
    server.start()
    body = {"name": "alice", "password": PW, "type": "user"}
    url = f"{server.url}/-/user/org.couchdb.user:alice"
    assert httpx.put(url, json=body).status_code == 401
    resp = httpx.put(url, json=body, headers={"npm-otp": codes.next()})
    assert resp.status_code == 201, resp.text
