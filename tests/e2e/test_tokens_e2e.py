"""Tokens through the real npm CLI (`npm token list|create|revoke`), `airlock token create`
for what npm cannot express, and tokens refused beyond their limits."""

from __future__ import annotations

import json
import re

from tests.support.packages import make_package_dir
from tests.support.users import signup

PW = "correct-horse-9"


def created_token(output: str) -> str:
    match = re.search(r"Created token (npm_[A-Za-z0-9]{36})\b", output)
    assert match, output
    return match.group(1)


def test_create_list_revoke_and_package_limits(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    out = alice.ok(
        "token",
        "create",
        f"--password={PW}",
        "--name=ci",
        "--expires=30",
        "--packages=pkg-a",
        "--packages-and-scopes-permission=read-write",
        "--cidr=127.0.0.1/32",
    ).output
    ci = created_token(out)
    assert "with IP whitelist: 127.0.0.1/32" in out
    assert "expires:" in out
    other = created_token(alice.ok("token", "create", f"--password={PW}").output)

    listing = alice.ok("token", "list").output
    assert "ci" in listing and ci[:10] in listing and ci not in listing

    # The limited token publishes pkg-a but nothing else, and npm shows why.
    robot = npm_factory(server, "robot", ci)
    robot.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
    refused = robot.run("publish", cwd=make_package_dir(tmp_path, "pkg-b", "1.0.0"))
    assert refused.code != 0
    assert "This token is limited to pkg-a and cannot be used for pkg-b" in refused.output

    # Revoke one by its full value, the other by the short id npm lists.
    assert "Removed 1 token" in alice.ok("token", "revoke", other).output
    assert server.client(other).get("/-/whoami").status_code == 401
    ci_id = _id_of(alice, "ci")
    assert len(ci_id) < 36
    assert "Removed 1 token" in alice.ok("token", "revoke", ci_id).output
    whoami = robot.run("whoami")
    assert whoami.code != 0 and "authentication token seems to be invalid" in whoami.output
    parseable = alice.ok("token", "list", "--parseable").stdout
    assert "\tci\t" not in parseable and len(parseable.strip().splitlines()) == 2


def _id_of(npm, name: str) -> str:
    for line in npm.ok("token", "list", "--parseable").stdout.splitlines():
        fields = line.split("\t")
        if name in fields:
            return fields[2]
    raise AssertionError(f"no token named {name}")


def test_bad_create_requests_show_the_reason(server, npm_factory):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    out = alice.run("token", "create", f"--password={PW}", "--expires=91").output
    assert "beyond this registry's maximum of 90 days" in out
    out = alice.run("token", "create", "--password=wrong-password").output
    assert "Incorrect or missing password" in out
    assert alice.ok("token", "list").output.count("Token npm_") == 1  # only the session


def test_stage_only_read_only_and_cidr_tokens_are_refused_with_reasons(
    server, npm_factory, tmp_path
):
    signup(server.url, "alice")

    def airlock_token(*args: str) -> str:
        made = server.cli("token", "create", "alice", *args)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()

    pkg = make_package_dir(tmp_path, "pkg-a", "1.0.0")
    stager = npm_factory(server, "stager", airlock_token("--permission", "stage-only"))
    out = stager.run("publish", cwd=pkg)
    assert out.code != 0 and "403" in out.output
    assert "Run `npm stage publish` instead" in out.output

    reader = npm_factory(server, "reader", airlock_token("--permission", "read-only"))
    out = reader.run("publish", cwd=pkg)
    assert out.code != 0 and "This token is read-only" in out.output

    far = npm_factory(server, "far", airlock_token("--cidr", "10.0.0.0/8", "--name", "far"))
    out = far.run("whoami")
    assert out.code != 0 and "EAUTHIP" in out.output

    bad = server.cli("token", "create", "alice", "--cidr", "10.0.0.300/8")
    assert bad.returncode != 0 and "Invalid CIDR" in bad.stderr
    assert server.cli("token", "create", "alice", "--expires-days", "365").returncode != 0
    listing = npm_factory(server, "alice", signup(server.url, "alice")).ok("token", "list")
    assert "far" in listing.output and listing.output.count("Token npm_") == 5


def test_npm_shows_usable_keys_and_masks_secrets(server, npm_factory):
    # Point 7: keys are not dashed UUIDs, so --json/--parseable show them; the secret has
    # npm's shape, so npm masks it in --json (only the "Created token" line shows it).
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    made = alice.ok("token", "create", f"--password={PW}", "--json").stdout
    assert '"npm_***"' in made, made
    listed = json.loads(alice.ok("token", "list", "--json").stdout)
    keys = [t["key"] for t in listed]
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys), keys
    parseable = alice.ok("token", "list", "--parseable").stdout
    assert "***" not in parseable
    newest = next(t for t in listed if t["key"] in keys and t["token"] != listed[-1]["token"])
    assert "Removed 1 token" in alice.ok("token", "revoke", newest["key"]).output
