"""Expiry in-process with a frozen clock: absent at once, swept later, number freed."""

from __future__ import annotations

import pytest

from airlock.stage.expiry import sweep_expired_stages
from tests.support.otp import code, enrol
from tests.support.packages import publish_body
from tests.support.staging import (
    auth,
    blob_files,
    package_count,
    signup,
    stage,
    staged_id,
    version_rows,
)

DAY = 24 * 3600


@pytest.fixture(autouse=True)
def long_sessions(app_ctx):
    # These tests move the clock weeks ahead; login sessions must outlive that.
    app_ctx.settings.session_token_ttl_seconds = 60 * DAY


async def test_an_expired_stage_is_absent_before_the_sweep(client, app_ctx, clock):
    alice = await signup(client, "alice")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    clock.advance(14 * DAY - 1)
    assert (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).status_code == 200
    clock.advance(1)
    assert (await client.get("/-/stage", headers=auth(alice))).json()["total"] == 0
    assert (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).status_code == 404
    assert (
        await client.get(f"/-/stage/{stage_id}/tarball", headers=auth(alice))
    ).status_code == 404
    status = await client.get("/-/package/pkg-a/version/1.0.0/status", headers=auth(alice))
    assert status.status_code == 404
    # The row is still there (no sweep yet) but the number is already free.
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]
    again = await stage(client, alice, "pkg-a", "1.0.0", tag="beta")
    assert again.status_code == 201, again.text
    assert again.json()["stageId"] != stage_id
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]


async def test_an_expired_stage_cannot_be_approved_or_rejected(client, app_ctx, clock):
    alice = await signup(client, "alice")
    secret, _ = await enrol(client, alice, clock.now())
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    clock.advance(14 * DAY + 30)
    resp = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 404
    resp = await client.delete(
        f"/-/stage/{stage_id}", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 404
    assert (await client.get("/pkg-a")).status_code == 404


async def test_sweep_deletes_rows_and_blobs_and_releases_new_names(client, app_ctx, clock):
    alice = await signup(client, "alice")
    await client.put("/pkg-a", json=publish_body("pkg-a", "0.1.0"), headers=auth(alice))
    kept = blob_files(app_ctx)
    await staged_id(client, alice, "pkg-a", "1.0.0")
    await staged_id(client, alice, "fresh", "1.0.0")
    clock.advance(DAY)
    young = await staged_id(client, alice, "pkg-a", "2.0.0")
    assert await sweep_expired_stages(app_ctx) == []
    clock.advance(13 * DAY)
    expired = await sweep_expired_stages(app_ctx)
    assert sorted((e.package, e.version) for e in expired) == [
        ("fresh", "1.0.0"),
        ("pkg-a", "1.0.0"),
    ]
    assert await version_rows(app_ctx) == [
        ("pkg-a", "0.1.0", "published"),
        ("pkg-a", "2.0.0", "staged"),
    ]
    assert len(blob_files(app_ctx)) == len(kept) + 1
    # "fresh" existed only as a reservation: the name is free again.
    assert await package_count(app_ctx) == 1
    # A second sweep (another process) finds nothing left to do.
    assert await sweep_expired_stages(app_ctx) == []
    listed = (await client.get("/-/stage", headers=auth(alice))).json()
    assert [it["id"] for it in listed["items"]] == [young]


async def test_expiry_follows_the_setting(client, app_ctx, clock):
    app_ctx.settings.stage_expiry_seconds = 60
    alice = await signup(client, "alice")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    item = (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).json()
    assert item["expiresAt"] == "2026-01-01T00:01:00.000Z"
    clock.advance(61)
    assert len(await sweep_expired_stages(app_ctx)) == 1


async def test_npm_publish_takes_the_number_of_an_expired_stage_before_the_sweep(
    client, app_ctx, clock
):
    alice = await signup(client, "alice")
    await staged_id(client, alice, "pkg-a", "1.0.0")
    await staged_id(client, alice, "pkg-a", "1.1.0")
    clock.advance(14 * DAY)
    body = publish_body("pkg-a", "1.1.0", registry="http://127.0.0.1:4873")
    resp = await client.put("/pkg-a", json=body, headers=auth(alice))
    assert resp.status_code in (200, 201), resp.text
    assert sorted(await version_rows(app_ctx)) == [
        ("pkg-a", "1.0.0", "staged"),
        ("pkg-a", "1.1.0", "published"),
    ]
    # Only the live version's blob is left for 1.1.0 (the lapsed stage's blob was freed).
    packument = (await client.get("/pkg-a")).json()
    assert list(packument["versions"]) == ["1.1.0"]
