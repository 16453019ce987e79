"""A compromised CI with a stage-only token tries the content tricks of the security review;
the maintainer's `npm stage view` and the packuments after approval show the truth."""

from __future__ import annotations

import json

import httpx

from tests.support.hostile import body_around, long_name_bomb, zeros_bomb
from tests.support.oidc_issuer import OidcIssuer, github_claims
from tests.support.otp import enrol_live
from tests.support.packages import make_package_dir, make_tarball
from tests.support.users import signup

CORGI = "application/vnd.npm.install-v1+json"
HOOK = "node -e \"require('fs').writeFileSync('PWNED','ran')\""
GYP = b"{'targets': [{'target_name': 'x', 'sources': ['<!(node -e \"1\")']}]}"


def _stage(ci: httpx.Client, name: str, body: dict) -> httpx.Response:
    return ci.post(f"/-/stage/package/{name.replace('/', '%2f')}", json=body)


def test_a_stage_only_ci_cannot_hide_what_the_tarball_does(server, npm_factory, tmp_path):
    session = signup(server.url, "alice")
    alice = npm_factory(server, "alice", session)
    _, recovery = enrol_live(server.client(session))
    alice.ok("publish", "--otp", recovery[0], cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
    made = server.cli("token", "create", "alice", "--permission", "stage-only")
    assert made.returncode == 0, made.stderr
    ci = server.client(made.stdout.strip())

    # Trick 1: the body says "no scripts, no dependencies"; the tarball has a postinstall.
    hidden = make_tarball(
        "pkg-a", "1.1.0", {"scripts": {"postinstall": HOOK}, "dependencies": {"left-pad": "*"}}
    )
    resp = _stage(
        ci,
        "pkg-a",
        body_around("pkg-a", "1.1.0", hidden, scripts={}, dependencies={}, hasInstallScript=False),
    )
    assert resp.status_code == 201, resp.text
    scripted = resp.json()["stageId"]
    # Trick 2: only a binding.gyp (npm runs node-gyp, which runs its command expansions).
    gyp = make_tarball("pkg-a", "1.2.0", files={"binding.gyp": GYP})
    resp = _stage(ci, "pkg-a", body_around("pkg-a", "1.2.0", gyp))
    assert resp.status_code == 201, resp.text
    gyp_stage = resp.json()["stageId"]

    # Tricks that must not get in at all: each a clean 4xx, nothing staged.
    refused = {
        "bomb of zeros": (body_around("pkg-a", "1.3.0", zeros_bomb("pkg-a", "1.3.0")), 413),
        "long-name header": (
            body_around("pkg-a", "1.3.1", long_name_bomb("pkg-a", "1.3.1")),
            400,
        ),
        "number reused with build metadata": (
            body_around("pkg-a", "1.0.0+ci", make_tarball("pkg-a", "1.0.0+ci")),
            403,
        ),
        "deep manifest": (
            body_around(
                "pkg-a",
                "1.3.2",
                make_tarball("pkg-a", "1.3.2", {"x": json.loads("[" * 300 + "]" * 300)}),
            ),
            400,
        ),
        "NUL in the manifest": (
            body_around("pkg-a", "1.3.3", make_tarball("pkg-a", "1.3.3", {"description": "\x00"})),
            400,
        ),
    }
    for trick, (body, status) in refused.items():
        resp = _stage(ci, "pkg-a", body)
        assert resp.status_code == status, (trick, resp.text)
        assert resp.json()["error"], trick
    resp = ci.post(
        "/-/stage/package/pkg-a%0A",
        json=body_around("pkg-a\n", "1.0.0", make_tarball("pkg-a\n", "1.0.0")),
    )
    assert resp.status_code == 400 and "Invalid package name" in resp.json()["error"]
    listed = json.loads(alice.ok("stage", "list", "--json").stdout)
    assert sorted(item["version"] for item in listed) == ["1.1.0", "1.2.0"]

    # The maintainer's review shows what will run.
    view = alice.ok("stage", "view", scripted).stdout
    assert f"installScripts: postinstall: {HOOK} (new)" in view, view
    assert "newDependencies: left-pad@*" in view
    view = alice.ok("stage", "view", gyp_stage).stdout
    assert "installScripts: install: node-gyp rebuild (new)" in view, view

    # After approval both packument forms say so too.
    alice.ok("stage", "approve", scripted, f"--otp={recovery[1]}")
    alice.ok("stage", "approve", gyp_stage, f"--otp={recovery[2]}")
    shown = json.loads(alice.ok("view", "pkg-a@1.1.0", "scripts", "dependencies", "--json").stdout)
    assert shown == {"scripts": {"postinstall": HOOK}, "dependencies": {"left-pad": "*"}}
    anon = httpx.Client(base_url=server.url, timeout=30)
    abbrev = anon.get("/pkg-a", headers={"accept": CORGI}).json()["versions"]
    assert abbrev["1.1.0"]["hasInstallScript"] is True
    assert abbrev["1.2.0"]["hasInstallScript"] is True
    assert "hasInstallScript" not in abbrev["1.0.0"]
    full = anon.get("/pkg-a").json()["versions"]
    assert full["1.2.0"]["scripts"] == {"install": "node-gyp rebuild"}
    assert full["1.2.0"]["gypfile"] is True
    assert anon.get("/-/ping").status_code == 200


def test_a_trusted_publishing_token_cannot_hide_an_install_script(
    server_factory, npm_factory, tmp_path
):
    issuer = OidcIssuer().start()
    try:
        server = server_factory(env=issuer.server_env())
        session = signup(server.url, "alice")
        alice = npm_factory(server, "alice", session)
        alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
        http = server.client(session)
        trust = {
            "type": "github",
            "claims": {"repository": "alice/pkg-a", "workflow_ref": {"file": "release.yml"}},
            "permissions": ["createStagedPackage"],
        }
        assert http.post("/-/package/pkg-a/trust", json=[trust]).status_code == 201
        _, recovery = enrol_live(http)
        exchanged = httpx.post(
            f"{server.url}/-/npm/v1/oidc/token/exchange/package/pkg-a",
            headers={"authorization": f"Bearer {issuer.sign(github_claims('alice/pkg-a'))}"},
            timeout=30,
        )
        assert exchanged.status_code == 201, exchanged.text
        ci = server.client(exchanged.json()["token"])
        hidden = make_tarball("pkg-a", "1.1.0", {"scripts": {"preinstall": HOOK}})
        body = body_around("pkg-a", "1.1.0", hidden, scripts={}, description="bugfix")
        resp = _stage(ci, "pkg-a", body)
        assert resp.status_code == 201, resp.text
        stage_id = resp.json()["stageId"]
        view = alice.ok("stage", "view", stage_id).stdout
        assert f"installScripts: preinstall: {HOOK} (new)" in view, view
        assert "trusted automation" in view
        alice.ok("stage", "approve", stage_id, f"--otp={recovery[0]}")
        anon = httpx.Client(base_url=server.url, timeout=30)
        abbrev = anon.get("/pkg-a", headers={"accept": CORGI}).json()["versions"]["1.1.0"]
        assert abbrev["hasInstallScript"] is True
        full = anon.get("/pkg-a").json()["versions"]["1.1.0"]
        assert full["scripts"] == {"preinstall": HOOK}
        # Nothing else leaks to the CI identity: no review, no other package.
        assert ci.get(f"/-/stage/{stage_id}").status_code == 403
    finally:
        issuer.stop()
