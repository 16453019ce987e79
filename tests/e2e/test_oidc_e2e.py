"""Trusted publishing end to end: the stock npm CLI inside "CI" against a live Airlock,
with a real OIDC issuer on 127.0.0.1 playing GitHub Actions and GitLab."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.support.oidc_issuer import REQUEST_TOKEN, OidcIssuer, github_claims, gitlab_claims
from tests.support.otp import CodeSource, enrol_live
from tests.support.packages import make_package_dir, publish_body
from tests.support.users import signup

STAGED = re.compile(r"\+ (\S+) \(staged with id ([0-9a-f-]{36})\)")


@pytest.fixture
def issuer():
    srv = OidcIssuer().start()
    yield srv
    srv.stop()


@pytest.fixture
def oidc_server(server_factory, issuer):
    return server_factory(env=issuer.server_env())


def github_env(issuer: OidcIssuer) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.actions_request_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
    }


def add_trust(http: httpx.Client, pkg: str, config: dict[str, Any]) -> str:
    resp = http.post(f"/-/package/{pkg.replace('/', '%2f')}/trust", json=[config])
    assert resp.status_code == 201, resp.text
    return str(resp.json()[0]["id"])


def github_trust(file: str, *permissions: str, repo: str = "alice/pkg-a") -> dict[str, Any]:
    return {
        "type": "github",
        "claims": {"repository": repo, "workflow_ref": {"file": file}},
        "permissions": list(permissions),
    }


def versions(http: httpx.Client, pkg: str) -> dict[str, Any]:
    resp = http.get(f"/{pkg}", headers={"accept": "application/json"})
    return dict(resp.json().get("versions", {})) if resp.status_code == 200 else {}


def test_github_workflows_stage_or_publish_as_their_relationship_allows(
    oidc_server, issuer, npm_factory, tmp_path
):
    session = signup(oidc_server.url, "alice")
    alice = npm_factory(oidc_server, "alice", session)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
    http = oidc_server.client(session)
    add_trust(http, "pkg-a", github_trust("release.yml", "createStagedPackage"))
    add_trust(http, "pkg-a", github_trust("nightly.yml", "createPackage"))
    ci = npm_factory(oidc_server, "ci")  # no credentials at all in its npmrc
    env = github_env(issuer)

    # release.yml may only stage: npm does the exchange itself, then stages.
    issuer.actions_claims = github_claims("alice/pkg-a", "release.yml")
    out = ci.ok("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.1.0"), env=env)
    [(spec, stage_id)] = STAGED.findall(out.output)
    assert spec == "pkg-a@1.1.0"
    assert issuer.actions_requests[-1]["audience"] == "npm:127.0.0.1"
    view = alice.ok("stage", "view", stage_id).stdout
    assert "staged by: alice (trusted automation)" in view, view
    assert "workflow: github: alice/pkg-a/.github/workflows/release.yml@" in view, view
    denied = ci.run("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.2.0"), env=env)
    assert denied.code != 0 and "403" in denied.output
    assert "allows only createStagedPackage" in denied.output
    assert "1.2.0" not in versions(http, "pkg-a")

    # nightly.yml may publish, not stage.
    issuer.actions_claims = github_claims("alice/pkg-a", "nightly.yml")
    ci.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.2.0"), env=env)
    npm_user = versions(http, "pkg-a")["1.2.0"]["_npmUser"]
    assert npm_user["name"] == "alice"
    publisher = npm_user["trustedPublisher"]
    assert publisher["id"] == "github" and publisher["repository"] == "alice/pkg-a"
    assert publisher["workflow"] == "nightly.yml"
    assert "_npmUser" not in versions(http, "pkg-a")["1.0.0"] or (
        "trustedPublisher" not in versions(http, "pkg-a")["1.0.0"]["_npmUser"]
    )
    denied = ci.run("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.3.0"), env=env)
    assert denied.code != 0 and "403" in denied.output

    # A workflow no relationship names: npm swallows the failed exchange and ends
    # without credentials.
    issuer.actions_claims = github_claims("mallory/pkg-a", "release.yml")
    for command in (("publish",), ("stage", "publish")):
        res = ci.run(*command, cwd=make_package_dir(tmp_path, "pkg-a", "1.3.0"), env=env)
        assert res.code != 0 and "ENEEDAUTH" in res.output, res.output
    assert "1.3.0" not in versions(http, "pkg-a")
    staged = alice.ok("stage", "list", "pkg-a", "--json").stdout
    assert [item["version"] for item in json.loads(staged)] == ["1.1.0"]


def test_gitlab_ci_publishes_with_npm_id_token_once(oidc_server, issuer, npm_factory, tmp_path):
    session = signup(oidc_server.url, "alice")
    alice = npm_factory(oidc_server, "alice", session)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "@alice/pkg-s", "1.0.0"))
    http = oidc_server.client(session)
    config = {
        "type": "gitlab",
        "claims": {"project_path": "grp/pkg-s", "ci_config_ref_uri": {"file": ".gitlab-ci.yml"}},
        "permissions": ["createPackage"],
    }
    add_trust(http, "@alice/pkg-s", config)
    # The package demands 2FA for publishing (which needs 2FA on the account first);
    # a trusted workflow is exempt.
    secret, _ = enrol_live(http)
    otp = CodeSource(secret, current_used=True).next()
    alice.ok("access", "set", "mfa=publish", "@alice/pkg-s", f"--otp={otp}")
    own = alice.run("publish", cwd=make_package_dir(tmp_path, "@alice/pkg-s", "1.0.1"))
    assert own.code != 0 and "EOTP" in own.output, own.output
    ci = npm_factory(oidc_server, "ci")
    id_token = issuer.sign(gitlab_claims("grp/pkg-s"), issuer=issuer.gitlab)
    env = {"GITLAB_CI": "true", "NPM_ID_TOKEN": id_token}
    ci.ok("publish", cwd=make_package_dir(tmp_path, "@alice/pkg-s", "1.1.0"), env=env)
    publisher = versions(http, "@alice%2fpkg-s")["1.1.0"]["_npmUser"]["trustedPublisher"]
    assert publisher["id"] == "gitlab" and publisher["project_path"] == "grp/pkg-s"
    # The same ID token again is a replay: refused, nothing published.
    res = ci.run("publish", cwd=make_package_dir(tmp_path, "@alice/pkg-s", "1.2.0"), env=env)
    assert res.code != 0 and "ENEEDAUTH" in res.output
    expired = issuer.sign(gitlab_claims("grp/pkg-s"), issuer=issuer.gitlab, lifetime=-120)
    res = ci.run(
        "publish",
        cwd=make_package_dir(tmp_path, "@alice/pkg-s", "1.2.0"),
        env={**env, "NPM_ID_TOKEN": expired},
    )
    assert res.code != 0 and "ENEEDAUTH" in res.output
    assert "1.2.0" not in versions(http, "@alice%2fpkg-s")


def exchange(base: str, id_token: str, pkg: str, command: str) -> httpx.Response:
    return httpx.post(
        f"{base}/-/npm/v1/oidc/token/exchange/package/{pkg}",
        headers={"authorization": f"Bearer {id_token}", "npm-command": command},
        timeout=30,
    )


def test_an_oidc_token_can_do_nothing_but_publish_its_package(
    oidc_server, issuer, npm_factory, tmp_path
):
    session = signup(oidc_server.url, "alice")
    signup(oidc_server.url, "bob")
    alice = npm_factory(oidc_server, "alice", session)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.0.0"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "pkg-b", "1.0.0"))
    stage_id = STAGED.findall(
        alice.ok("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.1.0")).output
    )[0][1]
    http = oidc_server.client(session)
    add_trust(http, "pkg-a", github_trust("release.yml", "createPackage", "createStagedPackage"))
    resp = exchange(oidc_server.url, issuer.sign(github_claims("alice/pkg-a")), "pkg-a", "x")
    assert resp.status_code == 201, resp.text
    assert resp.json()["token_type"] == "oidc"
    ci = npm_factory(oidc_server, "ci", resp.json()["token"])

    refused = [
        ("stage", "list"),
        ("stage", "view", stage_id),
        ("stage", "download", stage_id),
        ("stage", "approve", stage_id),
        ("stage", "reject", stage_id),
        ("dist-tag", "add", "pkg-a@1.0.0", "beta"),
        ("owner", "add", "bob", "pkg-a"),
        ("access", "set", "mfa=publish", "pkg-a"),
        ("deprecate", "pkg-a@1.0.0", "no"),
        ("unpublish", "pkg-a@1.0.0", "--force"),
        ("token", "list"),
        ("trust", "list", "pkg-a"),
        ("profile", "get"),
    ]
    for args in refused:
        res = ci.run(*args)
        assert res.code != 0, f"npm {' '.join(args)} succeeded with an OIDC token:\n{res.output}"
        assert "403 Forbidden" in res.output, res.output
    # `npm token create` prompts for the password first (no TTY here): raw HTTP instead.
    created = httpx.post(
        f"{oidc_server.url}/-/npm/v1/tokens",
        json={"password": "correct-horse-9"},
        headers={"authorization": f"Bearer {resp.json()['token']}"},
    )
    assert created.status_code == 403, created.text
    # Another package is out of bounds even for publishing.
    res = ci.run("stage", "publish", cwd=make_package_dir(tmp_path, "pkg-b", "1.1.0"))
    assert res.code != 0 and "403" in res.output
    # Nothing changed.
    doc = http.get("/pkg-a", headers={"accept": "application/json"}).json()
    assert doc["dist-tags"] == {"latest": "1.0.0"}
    assert [m["name"] for m in doc["maintainers"]] == ["alice"]
    assert "deprecated" not in doc["versions"]["1.0.0"]
    assert stage_id in alice.ok("stage", "list").stdout
    # What it may do, it can: stage and publish pkg-a.
    ci.ok("publish", cwd=make_package_dir(tmp_path, "pkg-a", "1.2.0"))


def test_provenance_bundle_sent_with_an_oidc_publish_is_exposed(oidc_server, issuer):
    session = signup(oidc_server.url, "alice")
    http = oidc_server.client(session)
    assert http.put("/pkg-p", json=publish_body("pkg-p", "1.0.0")).status_code in (200, 201)
    add_trust(http, "pkg-p", github_trust("release.yml", "createPackage", repo="alice/pkg-p"))
    resp = exchange(oidc_server.url, issuer.sign(github_claims("alice/pkg-p")), "pkg-p", "publish")
    token = resp.json()["token"]
    body = publish_body("pkg-p", "1.1.0")
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"certificate": {"rawBytes": base64.b64encode(b"x").decode()}},
        "dsseEnvelope": {"payloadType": "application/vnd.in-toto+json", "payload": "e30="},
        "nonce": str(uuid.uuid4()),
    }
    text = json.dumps(bundle)
    body["_attachments"]["pkg-p-1.1.0.sigstore"] = {
        "content_type": bundle["mediaType"],
        "data": text,  # npm sends the bundle as plain JSON text, not base64
        "length": len(text),
    }
    put = httpx.put(
        f"{oidc_server.url}/pkg-p", json=body, headers={"authorization": f"Bearer {token}"}
    )
    assert put.status_code in (200, 201), put.text
    dist = versions(http, "pkg-p")["1.1.0"]["dist"]
    assert "attestations" in dist
    url = dist["attestations"]["url"]
    got = httpx.get(url, timeout=30).json()
    assert got["attestations"][0]["bundle"]["nonce"] == bundle["nonce"]
    assert "attestations" not in versions(http, "pkg-p")["1.0.0"]["dist"]
