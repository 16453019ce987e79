"""Concurrent publishes: no lost versions in the packument, one winner per version number."""

from __future__ import annotations

import asyncio

from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, signup, version_rows


async def test_concurrent_publishes_of_different_versions_all_appear(client, app_ctx):
    token = await signup(client, "alice")
    first = await client.put("/pkg-a", json=publish_body("pkg-a", "0.1.0"), headers=auth(token))
    assert first.status_code == 201
    versions = [f"1.0.{i}" for i in range(5)]
    results = await asyncio.gather(
        *(
            client.put("/pkg-a", json=publish_body("pkg-a", v, tag=f"t{i}"), headers=auth(token))
            for i, v in enumerate(versions)
        )
    )
    assert [r.status_code for r in results] == [201] * 5
    doc = (await client.get("/pkg-a")).json()
    assert sorted(doc["versions"]) == ["0.1.0", *versions]
    assert doc["_rev"].startswith("7-")  # every change got its own revision


async def test_concurrent_publishes_of_one_version_have_one_winner(client, app_ctx):
    token = await signup(client, "alice")
    bodies = [
        publish_body("pkg-a", "1.0.0", make_tarball("pkg-a", "1.0.0", files={"n.js": bytes([i])}))
        for i in range(4)
    ]
    results = await asyncio.gather(
        *(client.put("/pkg-a", json=b, headers=auth(token)) for b in bodies)
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1
    assert all(c in (403, 409) for c in codes if c != 201), codes
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "published")]
    served = await client.get("/pkg-a/-/pkg-a-1.0.0.tgz")
    winner = bodies[[r.status_code for r in results].index(201)]
    assert served.status_code == 200
    assert winner["_attachments"]["pkg-a-1.0.0.tgz"]["length"] == len(served.content)


async def test_a_failing_publish_among_many_concurrent_ones_fails_alone(client, app_ctx):
    """Different packages and one package at once, with a refused body and a taken number
    in the crowd: every other publish succeeds, with its audit and outbox rows, and the
    refused ones leave no row behind."""
    from sqlalchemy import func, select

    from airlock.audit.models import AuditEvent
    from airlock.notifications.models import OutboxEvent

    token = await signup(client, "alice")
    assert (
        await client.put("/same", json=publish_body("same", "0.0.1"), headers=auth(token))
    ).status_code == 201
    bad = publish_body("bad-one", "1.0.0")
    bad["versions"]["1.0.0"]["dist"]["shasum"] = "0" * 40
    good = [(f"/other-{i}", publish_body(f"other-{i}", "1.0.0")) for i in range(6)]
    good += [("/same", publish_body("same", f"1.1.{i}", tag=f"t{i}")) for i in range(6)]
    taken = (
        "/same",
        publish_body("same", "0.0.1", make_tarball("same", "0.0.1", files={"x": b"1"})),
    )
    calls = [*good[:6], ("/bad-one", bad), *good[6:], taken]
    results = await asyncio.gather(
        *(client.put(path, json=body, headers=auth(token)) for path, body in calls)
    )
    codes = [r.status_code for r in results]
    assert codes[:6] == [201] * 6 and codes[7:-1] == [201] * 6
    assert codes[6] == 400 and codes[-1] in (403, 409), codes
    rows = await version_rows(app_ctx)
    assert ("bad-one", "1.0.0", "published") not in rows
    assert len(rows) == 1 + 12
    doc = (await client.get("/same")).json()
    assert sorted(doc["versions"]) == ["0.0.1", *(f"1.1.{i}" for i in range(6))]
    async with app_ctx.db.read() as session:
        published = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "package:version:published")
        )
        outbox = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.event == "package:version:published")
        )
    assert published == outbox == 13
