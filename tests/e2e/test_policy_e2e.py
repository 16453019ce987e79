"""Per-package publishing access (`npm access set mfa=...`) enforced against real npm:
a few cells of the matrix in docs/security.md, end to end."""

from __future__ import annotations

import re

from tests.support.otp import CodeSource, enrol_live
from tests.support.packages import make_package_dir
from tests.support.users import signup

PW = "correct-horse-9"


def test_mfa_publish_refuses_tokens_and_automation_accepts_bypass_tokens(
    server, npm_factory, tmp_path
):
    session = signup(server.url, "alice")
    alice = npm_factory(server, "alice", session)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
    # Without 2FA a granular token publishes freely (policy none, account without 2FA).
    made = alice.ok("token", "create", f"--password={PW}", "--bypass-2fa").output
    bypass = re.search(r"Created token (\S+)", made).group(1)
    plain = re.search(
        r"Created token (\S+)", alice.ok("token", "create", f"--password={PW}").output
    ).group(1)

    secret, recovery = enrol_live(server.client(session))
    codes = CodeSource(secret, current_used=True)

    # Changing the policy is a governance write: it needs a code.
    refused = alice.run("access", "set", "mfa=publish", "pkg-a")
    assert refused.code != 0 and "one-time password" in refused.output
    alice.ok("access", "set", "mfa=publish", "pkg-a", f"--otp={codes.next()}")

    robot = npm_factory(server, "robot", bypass)
    out = robot.run("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.1"))
    assert out.code != 0 and "does not accept access tokens" in out.output
    # The logged-in session may, with a code.
    assert alice.run("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.1")).code != 0
    alice.ok("publish", f"--otp={recovery[0]}", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.1"))

    alice.ok("access", "set", "mfa=automation", "pkg-a", f"--otp={recovery[1]}")
    robot.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.2"))
    other = npm_factory(server, "other", plain)
    out = other.run("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.3"))
    assert out.code != 0 and "one-time password" in out.output
    other.ok("publish", f"--otp={recovery[2]}", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.3"))


def test_stage_publish_never_needs_a_code_but_policy_still_binds_publish(
    server, npm_factory, tmp_path
):
    session = signup(server.url, "alice")
    alice = npm_factory(server, "alice", session)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-s", "1.0.0"))
    enrol_live(server.client(session))
    made = server.cli("token", "create", "alice", "--permission", "stage-only")
    assert made.returncode == 0, made.stderr
    ci = npm_factory(server, "ci", made.stdout.strip())
    out = ci.ok("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-s", "1.1.0"))
    assert "staged" in out.output
