"""The audit log you can ask: credential and client on every row, filters, visibility."""

from __future__ import annotations

from collections import Counter

from airlock.settings import Settings
from tests.support.otp import code, enrol
from tests.support.packages import publish_body
from tests.support.staging import auth, signup, staged_id

AUDIT = "/-/airlock/v1/audit"


async def _events(client, token, query=""):
    resp = await client.get(f"{AUDIT}?{query}", headers=auth(token))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_each_event_once_with_actor_and_credential(client, app_ctx, clock):
    alice = await signup(client, "alice")
    secret, _ = await enrol(client, alice, clock.now())
    clock.advance(30)
    body = publish_body("pkg-a", "1.0.0")
    resp = await client.put("/pkg-a", json=body, headers=auth(alice, code(secret, clock.now())))
    assert resp.status_code in (200, 201), resp.text
    stage = await staged_id(client, alice, "pkg-a", "1.1.0")
    clock.advance(30)
    ok = await client.post(
        f"/-/stage/{stage}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert ok.status_code == 201
    result = await _events(client, alice, "package=pkg-a")
    counts = Counter(it["event"] for it in result["items"])
    assert counts == {
        "package:version:published": 1,
        "package:version:staged": 1,
        "package:version:approved": 1,
    }, counts
    for it in result["items"]:
        assert it["actor"] == "alice"
        assert it["credential"]["kind"] == "session" and it["credential"]["id"]
        assert alice not in str(it)  # the id, never the secret
        assert it["client"] == "127.0.0.1"
    approved = (await _events(client, alice, "event=package:version:approved"))["items"]
    assert [it["details"]["stage_id"] for it in approved] == [stage]
    mine = await _events(client, alice, "actor=alice")
    kinds = Counter(it["event"] for it in mine["items"])
    assert kinds["user:created"] == 1 and kinds["user:2fa:enabled"] == 1
    assert mine["perPage"] == 50 and mine["page"] == 0 and mine["total"] == len(mine["items"])


async def test_non_maintainer_sees_nothing_of_other_packages(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await staged_id(client, alice, "pkg-a", "1.0.0")
    await staged_id(client, bob, "pkg-b", "1.0.0")
    seen = await _events(client, bob)
    assert {it["package"] for it in seen["items"]} == {None, "pkg-b"}
    assert all(it["actor"] == "bob" for it in seen["items"])
    assert (await _events(client, bob, "package=pkg-a"))["total"] == 0
    assert (await _events(client, bob, "actor=alice"))["total"] == 0
    assert (await client.get(AUDIT)).status_code == 401
    for bad in ("since=yesterday", "until=2026-01-01T00:00:00", "page=-1", "page=x"):
        resp = await client.get(f"{AUDIT}?{bad}", headers=auth(bob))
        assert resp.status_code == 400 and resp.json()["error"], bad


async def test_operators_see_everything_and_time_ranges_filter(client, app_ctx, clock):
    app_ctx.settings = Settings(**{**app_ctx.settings.model_dump(), "operators": ["root"]})
    root = await signup(client, "root")
    alice = await signup(client, "alice")
    await staged_id(client, alice, "pkg-a", "1.0.0")
    clock.advance(3600)
    await staged_id(client, alice, "pkg-a", "1.1.0")
    everything = await _events(client, root, "package=pkg-a")
    assert everything["total"] == 2
    later = await _events(client, root, "package=pkg-a&since=2026-01-01T00:30:00Z")
    assert [it["version"] for it in later["items"]] == ["1.1.0"]
    earlier = await _events(client, root, "package=pkg-a&until=2026-01-01T00:30:00Z")
    assert [it["version"] for it in earlier["items"]] == ["1.0.0"]


async def test_a_granular_token_is_named_by_kind_and_id(client, app_ctx):
    from sqlalchemy import select

    from airlock.tokens.models import Token
    from tests.support.staging import add_token

    await signup(client, "alice")
    token = await add_token(app_ctx, "alice", kind="granular")
    stage = await staged_id(client, token, "pkg-g", "1.0.0")
    async with app_ctx.db.read() as session:
        ids = {str(t.id) for t in (await session.scalars(select(Token))).all()}
    [row] = (await _events(client, token, "event=package:version:staged"))["items"]
    assert row["details"]["stage_id"] == stage
    assert row["credential"]["kind"] == "granular" and row["credential"]["id"] in ids
    assert token not in str(row)
