"""Listing, viewing and downloading stages, and the version status endpoint (in-process)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.packages import make_tarball, publish_body
from tests.support.staging import add_token, auth, set_maintainer, signup, stage, staged_id


async def test_list_pages_newest_first_with_total(client, app_ctx, clock):
    alice = await signup(client, "alice")
    for i in range(12):
        await staged_id(client, alice, "pkg-a", f"1.{i}.0")
        clock.advance(1)
    first = (await client.get("/-/stage", headers=auth(alice))).json()
    assert first["total"] == 12 and first["perPage"] == 10  # default page size
    assert [it["version"] for it in first["items"]] == [f"1.{i}.0" for i in range(11, 1, -1)]
    second = (await client.get("/-/stage?page=1&perPage=10", headers=auth(alice))).json()
    assert [it["version"] for it in second["items"]] == ["1.1.0", "1.0.0"]
    everything = (await client.get("/-/stage?page=0&perPage=100", headers=auth(alice))).json()
    assert len(everything["items"]) == 12


@pytest.mark.parametrize(
    "query", ["perPage=0", "perPage=x", "page=-1", "page=100000000000000000000"]
)
async def test_list_refuses_bad_paging(client, query):
    alice = await signup(client, "alice")
    resp = await client.get(f"/-/stage?{query}", headers=auth(alice))
    assert resp.status_code == 400
    assert resp.json()["error"]


async def test_list_caps_large_pages_at_100_and_says_so(client, clock):
    alice = await signup(client, "alice")
    for i in range(101):
        await staged_id(client, alice, "pkg-a", f"1.{i}.0")
    resp = await client.get("/-/stage?perPage=500", headers=auth(alice))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["perPage"] == 100 and len(body["items"]) == 100 and body["total"] == 101


async def test_list_filters_by_package_in_the_cli_spelling(client):
    alice = await signup(client, "alice")
    await staged_id(client, alice, "pkg-a", "1.0.0")
    await staged_id(client, alice, "@alice/pkg-s", "1.0.0", access="public")
    resp = await client.get(
        "/-/stage?page=0&perPage=100&package=%40alice%2Fpkg-s", headers=auth(alice)
    )
    assert [it["packageName"] for it in resp.json()["items"]] == ["@alice/pkg-s"]
    assert resp.json()["total"] == 1


async def test_list_shows_only_what_the_caller_may_see(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await staged_id(client, alice, "pkg-a", "1.0.0")
    await staged_id(client, bob, "pkg-b", "1.0.0")
    mine = (await client.get("/-/stage", headers=auth(bob))).json()
    assert [it["packageName"] for it in mine["items"]] == ["pkg-b"] and mine["total"] == 1
    # Filtering on somebody else's package reveals nothing either.
    other = (await client.get("/-/stage?package=pkg-a", headers=auth(bob))).json()
    assert other == {"items": [], "total": 0, "page": 0, "perPage": 10}


async def test_view_has_the_fields_npm_prints_all_scalars(client, app_ctx):
    alice = await signup(client, "alice")
    tarball = make_tarball("pkg-a", "1.0.0")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0", tag="beta", tarball=tarball)
    item = (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).json()
    body = publish_body("pkg-a", "1.0.0", tarball)["versions"]["1.0.0"]["dist"]
    assert item["id"] == stage_id
    assert item["packageName"] == "pkg-a" and item["version"] == "1.0.0" and item["tag"] == "beta"
    assert item["actor"] == "alice" and item["actorType"] == "user"
    assert item["shasum"] == body["shasum"] and item["integrity"] == body["integrity"]
    assert item["status"] == "staged" and item["access"] == "public"
    assert item["createdAt"] == "2026-01-01T00:00:00.000Z"
    assert item["expiresAt"] == "2026-01-15T00:00:00.000Z"  # 14 days by default
    assert all(not isinstance(v, dict | list) for v in item.values())


async def test_download_returns_exactly_the_staged_bytes(client):
    alice = await signup(client, "alice")
    tarball = make_tarball("pkg-a", "1.0.0", files={"big.bin": bytes(range(256)) * 400})
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0", tarball=tarball)
    resp = await client.get(f"/-/stage/{stage_id}/tarball", headers=auth(alice))
    assert resp.status_code == 200
    assert resp.content == tarball
    assert resp.headers["content-type"] == "application/octet-stream"


async def test_unknown_and_foreign_ids_are_404_malformed_ids_400(client):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    for path in ("", "/tarball"):
        assert (
            await client.get(f"/-/stage/{uuid.uuid4()}{path}", headers=auth(alice))
        ).status_code == 404
        # Bob gets exactly the answer an unknown id gets: existence does not leak.
        foreign = await client.get(f"/-/stage/{stage_id}{path}", headers=auth(bob))
        assert foreign.status_code == 404
        assert "not found" in foreign.json()["error"]
        assert (
            await client.get(f"/-/stage/not-a-uuid{path}", headers=auth(alice))
        ).status_code == 400
    assert (await client.get(f"/-/stage/{stage_id}")).status_code == 401


async def test_non_maintainer_stager_sees_only_their_own_stage(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    alices = await staged_id(client, alice, "pkg-a", "1.0.0")
    await set_maintainer(app_ctx, "pkg-a", "bob", True)
    bobs = await staged_id(client, bob, "pkg-a", "1.1.0")
    await set_maintainer(app_ctx, "pkg-a", "bob", False)
    listed = (await client.get("/-/stage", headers=auth(bob))).json()
    assert [it["id"] for it in listed["items"]] == [bobs]
    assert (await client.get(f"/-/stage/{bobs}", headers=auth(bob))).status_code == 200
    assert (await client.get(f"/-/stage/{bobs}/tarball", headers=auth(bob))).status_code == 200
    assert (await client.get(f"/-/stage/{alices}", headers=auth(bob))).status_code == 404
    # Deciding needs maintainership: still a 404, never a 403.
    assert (await client.post(f"/-/stage/{bobs}/approve", headers=auth(bob))).status_code == 404
    assert (await client.delete(f"/-/stage/{bobs}", headers=auth(bob))).status_code == 404


async def test_trusted_publishing_tokens_may_only_stage(client, app_ctx):
    alice = await signup(client, "alice")
    await staged_id(client, alice, "pkg-a", "1.0.0")
    oidc = await add_token(
        app_ctx, "alice", kind="oidc", packages=["pkg-a"], trust_permissions=["createStagedPackage"]
    )
    resp = await stage(client, oidc, "pkg-a", "1.1.0")
    assert resp.status_code == 201, resp.text
    stage_id = resp.json()["stageId"]
    view = (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).json()
    assert view["actorType"] == "trusted automation"
    for method, path in [
        ("GET", "/-/stage"),
        ("GET", f"/-/stage/{stage_id}"),
        ("GET", f"/-/stage/{stage_id}/tarball"),
        ("POST", f"/-/stage/{stage_id}/approve"),
        ("DELETE", f"/-/stage/{stage_id}"),
        ("GET", "/-/package/pkg-a/version/1.1.0/status"),
    ]:
        resp = await client.request(method, path, headers=auth(oidc, otp="123456"))
        assert resp.status_code == 403, (method, path, resp.text)


async def test_token_limited_to_other_packages_sees_no_stages(client, app_ctx):
    alice = await signup(client, "alice")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    limited = await add_token(app_ctx, "alice", packages=["pkg-z"])
    assert (await client.get("/-/stage", headers=auth(limited))).json()["total"] == 0
    assert (await client.get(f"/-/stage/{stage_id}", headers=auth(limited))).status_code == 404


async def test_version_status_tells_only_those_who_may_know(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice))
    stage_id = await staged_id(client, alice, "pkg-a", "1.1.0")
    url = "/-/package/pkg-a/version/{}/status"
    staged = (await client.get(url.format("1.1.0"), headers=auth(alice))).json()
    assert staged == {
        "packageName": "pkg-a",
        "version": "1.1.0",
        "status": "staged",
        "stageId": stage_id,
    }
    assert (await client.get(url.format("1.0.0"), headers=auth(alice))).json() == {
        "packageName": "pkg-a",
        "version": "1.0.0",
        "status": "published",
    }
    # Published is public knowledge; staged is not.
    assert (await client.get(url.format("1.0.0"))).json()["status"] == "published"
    assert (await client.get(url.format("1.1.0"), headers=auth(bob))).status_code == 404
    assert (await client.get(url.format("1.1.0"))).status_code == 404
    assert (await client.get(url.format("9.9.9"), headers=auth(alice))).status_code == 404
    assert (await client.get("/-/package/nope/version/1.0.0/status")).status_code == 404


async def test_restricted_package_status_is_hidden_from_outsiders(client):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    body = publish_body("@alice/secret", "1.0.0", access="restricted")
    resp = await client.put("/@alice%2fsecret", json=body, headers=auth(alice))
    assert resp.status_code in (200, 201), resp.text
    url = "/-/package/@alice%2fsecret/version/1.0.0/status"
    assert (await client.get(url, headers=auth(alice))).json() == {
        "packageName": "@alice/secret",
        "version": "1.0.0",
        "status": "published",
    }
    assert (await client.get(url, headers=auth(bob))).status_code == 404
