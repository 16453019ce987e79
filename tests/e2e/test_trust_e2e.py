"""`npm trust github|gitlab|circleci|list|revoke` end to end with the real npm CLI."""

from __future__ import annotations

import json
import re

from tests.support.otp import enrol_live, finish, spawn_npm
from tests.support.packages import make_package_dir
from tests.support.users import signup

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ORG, PROJ, PIPE, CTX = (
    "6f1a2b3c-0000-4000-8000-000000000001",
    "6f1a2b3c-0000-4000-8000-000000000002",
    "6f1a2b3c-0000-4000-8000-000000000003",
    "6f1a2b3c-0000-4000-8000-000000000004",
)


def _json_objects(text: str) -> list[dict[str, object]]:
    """`npm trust list --json` prints one JSON object per config, one after the other."""
    decoder, objects, pos = json.JSONDecoder(), [], 0
    while (start := text.find("{", pos)) != -1:
        obj, pos = decoder.raw_decode(text, start)
        objects.append(obj)
    return objects


def _ids(output: str) -> list[str]:
    return re.findall(rf"id: ({UUID})", output)


def test_maintainer_with_2fa_manages_several_relationships(server, npm_factory, tmp_path):
    session = signup(server.url, "alice")
    alice = npm_factory(server, "alice", session)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
    _, recovery = enrol_live(server.client(session))
    # Recovery codes stand in for authenticator codes (each once): TOTP codes would
    # need a new 30 s time-step per command.
    codes = iter(recovery)

    github = ("trust", "github", "pkg-a", "--file", "release.yml", "--repo", "alice/pkg-a")
    # A code is needed: without a TTY npm cannot prompt, so it stops with EOTP.
    refused = alice.run(*github, "--allow-stage-publish", "--yes")
    assert refused.code != 0 and "EOTP" in refused.output, refused.output
    out = alice.ok(*github, "--allow-stage-publish", "--yes", f"--otp={next(codes)}").stdout
    assert "type: github" in out and "permissions: stage publish" in out, out
    [stage_id] = _ids(out)

    # Unlike npmjs, a package may have several relationships.
    out = alice.ok(
        "trust",
        "github",
        "pkg-a",
        "--file",
        "nightly.yml",
        "--repo",
        "alice/pkg-a",
        "--env",
        "nightly",
        "--allow-publish",
        "--yes",
        f"--otp={next(codes)}",
    ).stdout
    assert "environment: nightly" in out and "permissions: publish" in out
    out = alice.ok(
        "trust",
        "gitlab",
        "pkg-a",
        "--file",
        ".gitlab-ci.yml",
        "--project",
        "grp/sub/pkg-a",
        "--allow-publish",
        "--allow-stage-publish",
        "--yes",
        f"--otp={next(codes)}",
    ).stdout
    assert "project: grp/sub/pkg-a" in out and "permissions: publish, stage publish" in out
    alice.ok(
        "trust",
        "circleci",
        "pkg-a",
        "--org-id",
        ORG,
        "--project-id",
        PROJ,
        "--pipeline-definition-id",
        PIPE,
        "--vcs-origin",
        "github.com/alice/pkg-a",
        "--context-id",
        CTX,
        "--allow-publish",
        "--yes",
        f"--otp={next(codes)}",
    )

    # The same workflow again is a conflict npm shows.
    dup = alice.run(*github, "--allow-publish", "--yes", f"--otp={next(codes)}")
    assert dup.code != 0 and "409" in dup.output and "already exists" in dup.output

    listed = alice.run("trust", "list", "pkg-a")
    assert "EOTP" in listed.output  # the list is a GET npm wraps in its OTP helper
    out = alice.ok("trust", "list", "pkg-a", f"--otp={next(codes)}").stdout
    assert len(_ids(out)) == 4
    for line in (
        "file: release.yml",
        "repository: alice/pkg-a",
        "type: circleci",
        f"orgId: {ORG}",
        "vcsOrigin: github.com/alice/pkg-a",
    ):
        assert line in out, out
    as_json = _json_objects(
        alice.ok("trust", "list", "pkg-a", "--json", f"--otp={next(codes)}").stdout
    )
    assert {c["type"] for c in as_json} == {"github", "gitlab", "circleci"}

    alice.ok("trust", "revoke", "pkg-a", "--id", stage_id, f"--otp={next(codes)}")
    # On a terminal (auth-type legacy) npm prompts for the code and repeats the GET with it.
    child = spawn_npm(alice, "trust", "list", "pkg-a", "--auth-type=legacy")
    child.expect("Enter OTP:")
    child.sendline(next(codes))
    status, out = finish(child)
    assert status == 0, out
    out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
    assert len(_ids(out)) == 3 and stage_id not in out

    # Someone who does not maintain the package can neither see nor change its trust.
    bob = npm_factory(server, "bob", signup(server.url, "bob"))
    res = bob.run("trust", "list", "pkg-a")
    assert res.code != 0 and "403" in res.output
    res = bob.run(*github, "--allow-publish", "--yes")
    assert res.code != 0 and "403" in res.output
    res = bob.run("trust", "revoke", "pkg-a", "--id", _ids(out)[0])
    assert res.code != 0 and "403" in res.output
    res = alice.run("trust", "list", "no-such-pkg", f"--otp={next(codes)}")
    assert res.code != 0 and "404" in res.output


def test_trust_without_2fa_needs_no_code(server, npm_factory, tmp_path):
    session = signup(server.url, "carol")
    carol = npm_factory(server, "carol", session)
    carol.ok("publish", cwd=make_package_dir(tmp_path, "@carol/pkg-s", "1.0.0"))
    out = carol.ok(
        "trust",
        "github",
        "@carol/pkg-s",
        "--file",
        "release.yml",
        "--repo",
        "carol/pkg-s",
        "--allow-publish",
        "--yes",
    ).stdout
    [trust_id] = _ids(out)
    assert trust_id in carol.ok("trust", "list", "@carol/pkg-s").stdout
    carol.ok("trust", "revoke", "@carol/pkg-s", "--id", trust_id)
    assert "No trust configurations found" in carol.ok("trust", "list", "@carol/pkg-s").output
