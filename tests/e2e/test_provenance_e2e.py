"""`npm stage view` (the real npm CLI) shows what a stage's provenance bundle proves.

npm can only make a bundle with Sigstore on the network, so the bundle is a recorded real
one (tests/fixtures/provenance) sent over HTTP the way `npm stage publish --provenance`
sends it; the reviewer's side is the stock CLI.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.packages import make_package_dir, make_tarball, publish_body
from tests.support.users import signup

STAGED = re.compile(r"staged with id ([0-9a-f-]{36})")
BUNDLE = (
    Path(__file__).parent.parent / "fixtures/provenance/github-actions.sigstore.json"
).read_text()
REPO = "https://github.com/trailofbits/pypi-attestation-models"


def _with_bundle(name: str, version: str) -> dict[str, object]:
    body = publish_body(name, version, make_tarball(name, version))
    body["_attachments"][f"{name}-{version}.sigstore"] = {  # type: ignore[index]
        "content_type": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "data": BUNDLE,
        "length": len(BUNDLE),
    }
    return body


def test_stage_view_prints_provenance_and_flags_it_missing(server, npm_factory, tmp_path):
    token = signup(server.url, "alice")
    alice = npm_factory(server, "alice", token)
    headers = {"authorization": f"Bearer {token}"}
    resp = httpx.put(
        f"{server.url}/prov-pkg", json=_with_bundle("prov-pkg", "1.0.0"), headers=headers
    )
    assert resp.status_code == 201, resp.text

    # A stage with a bundle: the certificate's repository, workflow and ref, and why not verified.
    resp = httpx.post(
        f"{server.url}/-/stage/package/prov-pkg",
        json=_with_bundle("prov-pkg", "1.1.0"),
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    view = alice.ok("stage", "view", resp.json()["stageId"]).stdout
    assert (
        "provenance: not verified (the statement is about "
        "'pypi_attestation_models-0.0.4a2.tar.gz', not pkg:npm/prov-pkg@1.1.0)"
    ) in view, view
    assert f"provenanceRepository: {REPO}" in view
    assert f"provenanceWorkflow: {REPO}/.github/workflows/release.yml@refs/tags/v0.0.4a2" in view
    assert "provenanceRef: refs/tags/v0.0.4a2" in view
    assert "provenanceMatchesTrust: no trust relationship" in view

    # `npm stage publish` without provenance, where the live 1.0.0 had it.
    [stage_id] = STAGED.findall(
        alice.ok("stage", "publish", cwd=make_package_dir(tmp_path, "prov-pkg", "1.2.0")).output
    )
    view = alice.ok("stage", "view", stage_id).stdout
    assert "provenance: none" in view, view
    assert "1.0.0 has provenance, this stage has none" in view
