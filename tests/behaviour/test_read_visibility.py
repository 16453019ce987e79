"""Token limits apply to every read (issue #8 point 2): one visibility rule.

A granular token limited to `pkg-a`, and a trusted-publishing token minted for `pkg-a`,
see nothing of the owner's other packages: 404 everywhere, as if missing.
"""

from __future__ import annotations

import pytest

from tests.support.packages import publish_body
from tests.support.staging import add_token, auth, escaped, signup, staged_id

CORGI = {"accept": "application/vnd.npm.install-v1+json"}


async def _publish(client, token, name, version, access=None):
    body = publish_body(name, version, access=access)
    resp = await client.put(f"/{escaped(name)}", json=body, headers=auth(token))
    assert resp.status_code == 201, resp.text


@pytest.fixture
async def world(client, app_ctx):
    alice = await signup(client, "alice")
    await _publish(client, alice, "pkg-a", "1.0.0")
    await _publish(client, alice, "@alice/secret", "1.0.0", access="restricted")
    await _publish(client, alice, "other-public", "1.0.0")
    stage_id = await staged_id(client, alice, "@alice/secret", "2.0.0")
    a_stage = await staged_id(client, alice, "pkg-a", "2.0.0")
    limited = await add_token(app_ctx, "alice", permission="read-only", packages=["pkg-a"])
    oidc = await add_token(
        app_ctx, "alice", kind="oidc", packages=["pkg-a"], trust_permissions=["createPackage"]
    )
    return {"alice": alice, "limited": limited, "oidc": oidc, "stage": stage_id, "a": a_stage}


async def test_the_owner_sees_everything(client, world):
    who = auth(world["alice"])
    assert (await client.get("/@alice%2fsecret", headers=who)).status_code == 200
    assert (await client.get(f"/-/stage/{world['stage']}", headers=who)).status_code == 200


@pytest.mark.parametrize("kind", ["limited", "oidc"])
async def test_limited_tokens_see_nothing_outside_their_limits(client, world, kind):
    who = auth(world[kind])
    paths = [
        "/@alice%2fsecret",
        "/@alice/secret/-/secret-1.0.0.tgz",
        "/-/package/@alice%2fsecret/dist-tags",
        "/-/package/@alice%2fsecret/collaborators",
        "/-/package/@alice%2fsecret/visibility",
        # Public packages are outside the limits too: a limited token reads only its own.
        "/other-public",
        "/other-public/-/other-public-1.0.0.tgz",
        "/-/package/other-public/dist-tags",
    ]
    for path in paths:
        resp = await client.get(path, headers=who)
        assert resp.status_code == 404, (path, resp.status_code, resp.text)
        assert resp.json()["error"]
    corgi = await client.get("/@alice%2fsecret", headers={**who, **CORGI})
    assert corgi.status_code == 404
    # Inside the limits, reads work.
    assert (await client.get("/pkg-a", headers=who)).status_code == 200
    assert (await client.get("/pkg-a", headers={**who, **CORGI})).status_code == 200
    assert (await client.get("/pkg-a/-/pkg-a-1.0.0.tgz", headers=who)).status_code == 200
    assert (await client.get("/-/package/pkg-a/dist-tags", headers=who)).status_code == 200
    found = (await client.get("/-/v1/search?text=", headers=who)).json()
    assert [o["package"]["name"] for o in found["objects"]] == ["pkg-a"]
    listed = (await client.get("/-/user/alice/package", headers=who)).json()
    assert listed == {"pkg-a": "write"}


async def test_limited_tokens_see_no_stage_or_status_outside_their_limits(client, world):
    who = auth(world["limited"])
    stage = world["stage"]
    for path in [f"/-/stage/{stage}", f"/-/stage/{stage}/tarball"]:
        resp = await client.get(path, headers=who)
        assert resp.status_code == 404, (path, resp.text)
    listed = (await client.get("/-/stage?page=0&perPage=100", headers=who)).json()
    assert [it["id"] for it in listed["items"]] == [world["a"]]
    resp = await client.get("/-/package/@alice%2fsecret/version/1.0.0/status", headers=who)
    assert resp.status_code == 404
    resp = await client.get("/-/package/@alice%2fsecret/version/2.0.0/status", headers=who)
    assert resp.status_code == 404
    resp = await client.get("/-/package/pkg-a/version/2.0.0/status", headers=who)
    assert resp.status_code == 200 and resp.json()["status"] == "staged"


async def test_outsiders_and_anonymous_still_see_public_packages_only(client, world):
    bob = await signup(client, "bob")
    for who in [auth(bob), {}]:
        assert (await client.get("/@alice%2fsecret", headers=who)).status_code == 404
        assert (await client.get("/other-public", headers=who)).status_code == 200
        names = {
            o["package"]["name"]
            for o in (await client.get("/-/v1/search?text=", headers=who)).json()["objects"]
        }
        assert names == {"pkg-a", "other-public"}
