"""Managing packages in-process: owners, deprecation, dist-tags, access, search edge cases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from airlock.audit.models import AuditEvent
from tests.support.otp import code, enrol
from tests.support.packages import publish_body
from tests.support.staging import add_token, auth, signup


async def publish(client, token, name, version, **kw):
    resp = await client.put(
        f"/{name.replace('/', '%2f')}", json=publish_body(name, version, **kw), headers=auth(token)
    )
    assert resp.status_code == 201, resp.text


async def doc(client, name, token=None):
    resp = await client.get(f"/{name.replace('/', '%2f')}", headers=auth(token))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_owner_changes_need_known_users_and_at_least_one_owner(client, app_ctx):
    alice = await signup(client, "alice")
    await signup(client, "bob")
    await publish(client, alice, "pkg-a", "1.0.0")
    rev = (await doc(client, "pkg-a"))["_rev"]
    unknown = {"_id": "pkg-a", "_rev": rev, "maintainers": [{"name": "ghost"}]}
    resp = await client.put(f"/pkg-a/-rev/{rev}", json=unknown, headers=auth(alice))
    assert resp.status_code == 400 and "ghost" in resp.json()["error"]
    empty = {"_id": "pkg-a", "_rev": rev, "maintainers": []}
    resp = await client.put(f"/pkg-a/-rev/{rev}", json=empty, headers=auth(alice))
    assert resp.status_code == 400 and "at least one" in resp.json()["error"]
    both = {"_id": "pkg-a", "_rev": rev, "maintainers": [{"name": "alice"}, {"name": "bob"}]}
    resp = await client.put(f"/pkg-a/-rev/{rev}", json=both, headers=auth(alice))
    assert resp.status_code == 200 and resp.json()["ok"] is True
    assert [m["name"] for m in (await doc(client, "pkg-a"))["maintainers"]] == ["alice", "bob"]
    resp = await client.put(f"/pkg-a/-rev/{rev}", json={"_id": "pkg-a"}, headers=auth(alice))
    assert resp.status_code == 400 and resp.json()["error"]
    # The old revision is stale now.
    resp = await client.put(f"/pkg-a/-rev/{rev}", json=both, headers=auth(alice))
    assert resp.status_code == 409


async def test_deprecate_only_touches_named_versions_and_empty_string_clears(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    await publish(client, token, "pkg-a", "1.1.0")
    current = await doc(client, "pkg-a")
    current["versions"]["1.0.0"]["deprecated"] = "too old"
    resp = await client.put("/pkg-a", json=current, headers=auth(token))
    assert resp.status_code == 201
    after = await doc(client, "pkg-a")
    assert after["versions"]["1.0.0"]["deprecated"] == "too old"
    assert "deprecated" not in after["versions"]["1.1.0"]
    after["versions"]["1.0.0"]["deprecated"] = ""
    assert (await client.put("/pkg-a", json=after, headers=auth(token))).status_code == 201
    assert "deprecated" not in (await doc(client, "pkg-a"))["versions"]["1.0.0"]
    async with app_ctx.db.read() as session:
        events = (await session.execute(select(AuditEvent.event))).scalars().all()
    assert events.count("package:version:deprecated") == 2


async def test_outsiders_and_read_only_tokens_cannot_manage(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await publish(client, alice, "pkg-a", "1.0.0")
    current = await doc(client, "pkg-a")
    current["versions"]["1.0.0"]["deprecated"] = "hijack"
    resp = await client.put("/pkg-a", json=current, headers=auth(bob))
    assert resp.status_code == 403
    resp = await client.put("/-/package/pkg-a/dist-tags/evil", json="1.0.0", headers=auth(bob))
    assert resp.status_code == 403
    resp = await client.delete(f"/pkg-a/-rev/{current['_rev']}", headers=auth(bob))
    assert resp.status_code == 403
    resp = await client.post(
        "/-/package/pkg-a/access", json={"access": "public"}, headers=auth(bob)
    )
    assert resp.status_code == 403
    read_only = await add_token(app_ctx, "alice", permission="read-only")
    resp = await client.put(
        "/-/package/pkg-a/dist-tags/beta", json="1.0.0", headers=auth(read_only)
    )
    assert resp.status_code == 403 and "read-only" in resp.json()["error"]
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "2.0.0"), headers=auth(read_only))
    assert resp.status_code == 403
    unchanged = await doc(client, "pkg-a")
    assert unchanged["dist-tags"] == {"latest": "1.0.0"}
    assert "deprecated" not in unchanged["versions"]["1.0.0"]
    assert list(unchanged["versions"]) == ["1.0.0"]


async def test_dist_tag_routes(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "@alice/pkg-s", "1.0.0", access="public")
    path = "/-/package/@alice%2fpkg-s/dist-tags"
    resp = await client.put(f"{path}/beta", json="1.0.0", headers=auth(token))
    assert resp.status_code == 201
    assert (await client.get(path)).json() == {"beta": "1.0.0", "latest": "1.0.0"}
    resp = await client.put(f"{path}/beta", json={"v": 1}, headers=auth(token))
    assert resp.status_code == 400
    resp = await client.put(f"{path}/beta", content=b"not json", headers=auth(token))
    assert resp.status_code == 400
    assert (await client.delete(f"{path}/nope", headers=auth(token))).status_code == 404
    assert (await client.delete(f"{path}/beta", headers=auth(token))).status_code == 200
    assert (await client.get(path)).json() == {"latest": "1.0.0"}
    assert (await client.get("/-/package/nothing/dist-tags")).status_code == 404


async def test_access_mfa_policy_is_stored(client, app_ctx, clock):
    token = await signup(client, "alice")
    await publish(client, token, "@alice/pkg-s", "1.0.0", access="public")
    url = "/-/package/@alice%2fpkg-s/access"
    body = {"publish_requires_tfa": True, "automation_token_overrides_tfa": False}
    # Without 2FA on the account the maintainer could never undo it: refused.
    refused = await client.post(url, json=body, headers=auth(token))
    assert refused.status_code == 403 and "Enable two-factor" in refused.json()["error"]
    assert (await client.get("/-/package/@alice%2fpkg-s/visibility")).json()["mfa"] == "none"
    secret, _ = await enrol(client, token, clock.now())
    otp = code(secret, clock.now() + timedelta(seconds=30))
    resp = await client.post(url, json=body, headers=auth(token, otp))
    assert resp.status_code == 200, resp.text
    vis = (await client.get("/-/package/@alice%2fpkg-s/visibility")).json()
    assert vis == {"public": True, "mfa": "publish"}
    resp = await client.post(url, json={"access": "secret"}, headers=auth(token))
    assert resp.status_code == 400
    resp = await client.post(url, json={}, headers=auth(token))
    assert resp.status_code == 400


async def test_search_paginates_and_describes_packages(client, app_ctx):
    token = await signup(client, "alice")
    for i in range(3):
        await publish(client, token, f"tool-{i}", "1.0.0")
    await publish(client, token, "@alice/hidden-tool", "1.0.0", access="restricted")
    page = (await client.get("/-/v1/search", params={"text": "tool", "size": 2})).json()
    assert page["total"] == 3 and [o["package"]["name"] for o in page["objects"]] == [
        "tool-0",
        "tool-1",
    ]
    rest = (await client.get("/-/v1/search", params={"text": "tool", "size": 2, "from": 2})).json()
    assert [o["package"]["name"] for o in rest["objects"]] == ["tool-2"]
    item = rest["objects"][0]["package"]
    assert item["version"] == "1.0.0"
    assert item["maintainers"] == [{"username": "alice", "email": "alice@example.com"}]
    assert item["publisher"]["username"] == "alice"
    mine = (await client.get("/-/v1/search", params={"text": "hidden"}, headers=auth(token))).json()
    assert [o["package"]["name"] for o in mine["objects"]] == ["@alice/hidden-tool"]
    # LIKE wildcards in the text are matched literally.
    for literal in ("%", "_", "tool_"):
        found = (await client.get("/-/v1/search", params={"text": literal})).json()
        assert found["objects"] == [], literal
    bad = await client.get("/-/v1/search", params={"text": "x", "size": "lots"})
    assert bad.status_code == 400 and bad.json()["error"]
