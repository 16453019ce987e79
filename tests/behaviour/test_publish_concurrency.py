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
