"""Provenance in review and on the attestations route, in-process (real DB, real blobs).

The bundle is a real Sigstore bundle recorded from PyPI (tests/fixtures/provenance): its
signature verifies offline, its subject is not the staged npm tarball, so the server must
say "not verified" with that reason and flag it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.oidc_issuer import seed_package
from tests.support.packages import publish_body
from tests.support.staging import auth, signup, stage

FIXTURES = Path(__file__).parent.parent / "fixtures" / "provenance"
BUNDLE = (FIXTURES / "github-actions.sigstore.json").read_text()
REPO = "https://github.com/trailofbits/pypi-attestation-models"
PKG = "pkg-a"


def with_bundle(name: str, version: str, bundle: str = BUNDLE, **kw: Any) -> dict[str, Any]:
    body = publish_body(name, version, **kw)
    body["_attachments"][f"{name}-{version}.sigstore"] = {
        "content_type": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "data": bundle,
        "length": len(bundle),
    }
    return body


async def trust(client, token: str, repository: str) -> None:
    config = {
        "type": "github",
        "claims": {"repository": repository, "workflow_ref": {"file": "release.yml"}},
        "permissions": ["createStagedPackage"],
    }
    resp = await client.post(f"/-/package/{PKG}/trust", json=[config], headers=auth(token))
    assert resp.status_code == 201, resp.text


async def staged(client, token: str, body: dict[str, Any]) -> str:
    resp = await stage(client, token, body["name"], next(iter(body["versions"])), body=body)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["stageId"])


async def test_stage_view_and_signals_show_the_certificate_and_why_it_is_not_verified(
    client, app_ctx
):
    alice = await seed_package(app_ctx, PKG, "alice")
    await trust(client, alice, "trailofbits/pypi-attestation-models")
    sid = await staged(client, alice, with_bundle(PKG, "1.0.0"))
    view = (await client.get(f"/-/stage/{sid}", headers=auth(alice))).json()
    reason = (
        "the statement is about 'pypi_attestation_models-0.0.4a2.tar.gz', not pkg:npm/pkg-a@1.0.0"
    )
    assert view["provenance"] == f"not verified ({reason})"
    assert view["provenanceRepository"] == REPO
    assert view["provenanceWorkflow"] == f"{REPO}/.github/workflows/release.yml@refs/tags/v0.0.4a2"
    assert view["provenanceRef"] == "refs/tags/v0.0.4a2"
    assert view["provenanceMatchesTrust"] == "yes"
    assert view["risk provenance-subject-mismatch"] == f"[high] {reason}"
    assert all(isinstance(v, (str, int, bool)) or v is None for v in view.values())

    body = (await client.get(f"/-/airlock/v1/stage/{sid}/signals", headers=auth(alice))).json()
    assert body["provenance"]["signatureVerified"] is True  # offline, embedded root
    assert body["provenance"]["verified"] is False
    assert body["provenance"]["subjectMatches"] is False
    assert body["provenance"]["repository"] == REPO
    assert body["provenance"]["commit"] == "153c9a3f5c152ef5405cba227676534658acde27"
    assert body["provenance"]["matchesTrust"] is True
    ids = {s["id"]: s["severity"] for s in body["signals"]}
    assert ids["provenance-subject-mismatch"] == "high"
    assert "provenance-other-repository" not in ids


async def test_a_certificate_from_another_repository_is_a_high_signal(client, app_ctx):
    alice = await seed_package(app_ctx, PKG, "alice")
    await trust(client, alice, "alice/pkg-a")
    sid = await staged(client, alice, with_bundle(PKG, "1.0.0"))
    view = (await client.get(f"/-/stage/{sid}", headers=auth(alice))).json()
    assert view["provenanceMatchesTrust"] == "no"
    assert view["risk provenance-other-repository"].startswith(
        f"[high] the bundle's certificate names {REPO}"
    )


async def test_a_tampered_bundle_says_not_verified_and_why(client, app_ctx):
    alice = await seed_package(app_ctx, PKG, "alice")
    tampered = BUNDLE.replace('LMoAIZP"', 'LMoAIZQ"', 1)  # last signature byte
    assert tampered != BUNDLE
    sid = await staged(client, alice, with_bundle(PKG, "1.0.0", tampered))
    prov = (await client.get(f"/-/airlock/v1/stage/{sid}/signals", headers=auth(alice))).json()[
        "provenance"
    ]
    assert prov["signatureVerified"] is False and prov["verified"] is False
    assert prov["status"].startswith("not verified (verification failed: ")
    assert prov["matchesTrust"] is None  # no trust relationship configured


async def test_provenance_missing_where_the_live_version_had_it(client, app_ctx):
    alice = await signup(client, "alice")
    assert (
        await client.put(f"/{PKG}", json=with_bundle(PKG, "1.0.0"), headers=auth(alice))
    ).status_code == 201
    sid = await staged(client, alice, publish_body(PKG, "1.1.0"))
    view = (await client.get(f"/-/stage/{sid}", headers=auth(alice))).json()
    assert view["provenance"] == "none"
    assert "provenanceRepository" not in view
    assert view["risk provenance-missing"] == "[high] 1.0.0 has provenance, this stage has none"
    # With provenance again: no "missing" signal.
    sid = await staged(client, alice, with_bundle(PKG, "1.2.0"))
    view = (await client.get(f"/-/stage/{sid}", headers=auth(alice))).json()
    assert "risk provenance-missing" not in view


async def test_the_attestations_route_follows_the_packument_visibility(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    name = "@alice/pkg-s"
    body = with_bundle(name, "1.0.0", access="restricted")
    assert (await client.put("/@alice%2fpkg-s", json=body, headers=auth(alice))).status_code == 201
    url = "/-/npm/v1/attestations/@alice%2fpkg-s@1.0.0"
    mine = await client.get(url, headers=auth(alice))
    assert mine.status_code == 200
    [att] = mine.json()["attestations"]
    # npm's shape; the predicate type is the statement's own.
    assert att["predicateType"] == "https://docs.pypi.org/attestations/publish/v1"
    assert att["bundle"]["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    for headers in (auth(bob), {}):
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 404 and resp.json()["error"]
    # A staged version's bundle is not served before approval; unknown versions are 404.
    await staged(client, alice, with_bundle(name, "1.1.0", access="restricted"))
    for version in ("1.1.0", "9.9.9"):
        resp = await client.get(
            f"/-/npm/v1/attestations/@alice%2fpkg-s@{version}", headers=auth(alice)
        )
        assert resp.status_code == 404


async def test_an_oversized_bundle_is_refused_and_nothing_is_kept(client, app_ctx):
    alice = await signup(client, "alice")
    big = '{"mediaType": "x", "pad": "' + "a" * app_ctx.settings.max_provenance_bytes + '"}'
    resp = await stage(client, alice, PKG, "1.0.0", body=with_bundle(PKG, "1.0.0", big))
    assert resp.status_code == 413 and "provenance bundle" in resp.json()["error"]
    assert (await client.get(f"/{PKG}")).status_code == 404
