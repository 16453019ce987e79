"""Managing trust relationships over HTTP, in-process (edge cases; npm flows are in e2e)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from airlock.audit.models import AuditEvent
from tests.support.oidc_issuer import seed_package

PKG = "pkg-a"
GITHUB = {
    "type": "github",
    "claims": {"repository": "alice/pkg", "workflow_ref": {"file": "release.yml"}},
    "permissions": ["createPackage"],
}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def alice(app_ctx) -> str:
    return await seed_package(app_ctx, PKG, "alice")


async def test_create_answers_the_created_configs_with_ids(client, app_ctx, alice):
    resp = await client.post(f"/-/package/{PKG}/trust", json=[GITHUB], headers=bearer(alice))
    assert resp.status_code == 201
    [config] = resp.json()
    assert config["type"] == "github"
    assert config["claims"] == GITHUB["claims"]
    assert config["permissions"] == ["createPackage"]
    listed = (await client.get(f"/-/package/{PKG}/trust", headers=bearer(alice))).json()
    assert [c["id"] for c in listed] == [config["id"]]
    async with app_ctx.db.read() as session:
        events = (await session.execute(select(AuditEvent.event))).scalars().all()
    assert "package:trust:created" in events


async def test_an_identical_relationship_is_a_conflict_but_others_are_allowed(client, alice):
    url = f"/-/package/{PKG}/trust"
    assert (await client.post(url, json=[GITHUB], headers=bearer(alice))).status_code == 201
    same = await client.post(url, json=[GITHUB], headers=bearer(alice))
    assert same.status_code == 409
    assert "already exists" in same.json()["error"]
    # Same workflow with other permissions is still the same workflow.
    stage = {**GITHUB, "permissions": ["createStagedPackage"]}
    assert (await client.post(url, json=[stage], headers=bearer(alice))).status_code == 409
    nightly = {**GITHUB, "claims": {**GITHUB["claims"], "workflow_ref": {"file": "nightly.yml"}}}
    assert (await client.post(url, json=[nightly], headers=bearer(alice))).status_code == 201
    with_env = {**GITHUB, "claims": {**GITHUB["claims"], "environment": "prod"}}
    assert (await client.post(url, json=with_env, headers=bearer(alice))).status_code == 201
    assert len((await client.get(url, headers=bearer(alice))).json()) == 3


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({**GITHUB, "type": "bitbucket"}, "Unknown trust type"),
        ({**GITHUB, "permissions": []}, "permissions"),
        ({**GITHUB, "permissions": ["deletePackage"]}, "permissions"),
        (
            {**GITHUB, "claims": {"repository": "alice", "workflow_ref": {"file": "r.yml"}}},
            "owner/repository",
        ),
        (
            {**GITHUB, "claims": {"repository": "a/b", "workflow_ref": {"file": "x/r.yml"}}},
            "workflow_ref",
        ),
        (
            {**GITHUB, "claims": {"repository": "a/b", "workflow_ref": {"file": "r.txt"}}},
            "workflow_ref",
        ),
        ({**GITHUB, "claims": {"repository": "a/b", "workflow_ref": "r.yml"}}, "workflow_ref"),
        ({**GITHUB, "claims": {**GITHUB["claims"], "sub": "x"}}, "Unknown github claims"),
        ({**GITHUB, "claims": {**GITHUB["claims"], "environment": ""}}, "environment"),
        (
            {
                "type": "gitlab",
                "claims": {"project_path": "proj", "ci_config_ref_uri": {"file": ".gitlab-ci.yml"}},
                "permissions": ["createPackage"],
            },
            "project path",
        ),
        (
            {
                "type": "circleci",
                "claims": {"oidc.circleci.com/org-id": "nope"},
                "permissions": ["createPackage"],
            },
            "UUID",
        ),
        ({**GITHUB, "claims": "alice/pkg"}, "claims"),
        ("github", "object"),
    ],
)
async def test_invalid_configs_are_400(client, alice, config: Any, needle: str):
    resp = await client.post(f"/-/package/{PKG}/trust", json=[config], headers=bearer(alice))
    assert resp.status_code == 400, resp.text
    assert needle in resp.json()["error"]
    assert (await client.get(f"/-/package/{PKG}/trust", headers=bearer(alice))).json() == []


@pytest.mark.parametrize("body", [b"", b"{not json", b"[]"])
async def test_malformed_bodies_are_400(client, alice, body: bytes):
    resp = await client.post(
        f"/-/package/{PKG}/trust",
        content=body,
        headers={**bearer(alice), "content-type": "application/json"},
    )
    assert resp.status_code == 400


async def test_only_maintainers_manage_trust(client, app_ctx, alice):
    bob = await seed_package(app_ctx, "pkg-b", "bob")
    url = f"/-/package/{PKG}/trust"
    assert (await client.post(url, json=[GITHUB])).status_code == 401
    assert (await client.get(url)).status_code == 401
    resp = await client.post(url, json=[GITHUB], headers=bearer(bob))
    assert resp.status_code == 403
    assert (await client.get(url, headers=bearer(bob))).status_code == 403
    created = (await client.post(url, json=[GITHUB], headers=bearer(alice))).json()[0]
    assert (await client.delete(f"{url}/{created['id']}", headers=bearer(bob))).status_code == 403
    assert len((await client.get(url, headers=bearer(alice))).json()) == 1


async def test_restricted_packages_are_404_to_outsiders(client, app_ctx, alice):
    alice_again = await seed_package(app_ctx, "@alice/secret", "alice", access="restricted")
    carol = await seed_package(app_ctx, "pkg-c", "carol")
    resp = await client.get("/-/package/@alice%2fsecret/trust", headers=bearer(carol))
    assert resp.status_code == 404
    assert (
        await client.get("/-/package/@alice%2fsecret/trust", headers=bearer(alice_again))
    ).status_code == 200


async def test_missing_package_is_404(client, alice):
    resp = await client.post("/-/package/nope/trust", json=[GITHUB], headers=bearer(alice))
    assert resp.status_code == 404
    assert (await client.get("/-/package/nope/trust", headers=bearer(alice))).status_code == 404


async def test_revoke_needs_an_id_of_this_package(client, app_ctx, alice):
    await seed_package(app_ctx, "pkg-b", "alice")
    other = (
        await client.post("/-/package/pkg-b/trust", json=[GITHUB], headers=bearer(alice))
    ).json()[0]
    for bad in ("not-a-uuid", "6f1a2b3c-0000-4000-8000-000000000001", other["id"]):
        resp = await client.delete(f"/-/package/{PKG}/trust/{bad}", headers=bearer(alice))
        assert resp.status_code == 404, bad
    assert len((await client.get("/-/package/pkg-b/trust", headers=bearer(alice))).json()) == 1
    ok = await client.delete(f"/-/package/pkg-b/trust/{other['id']}", headers=bearer(alice))
    assert ok.status_code == 204
    assert (await client.get("/-/package/pkg-b/trust", headers=bearer(alice))).json() == []
