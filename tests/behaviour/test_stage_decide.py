"""Approving and rejecting in-process: second factor, publication, integrity, conflicts."""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy import select

from airlock.audit.models import AuditEvent
from airlock.packages.models import Package, Version
from tests.support.otp import code, enrol
from tests.support.packages import make_tarball, publish_body
from tests.support.staging import (
    auth,
    blob_files,
    package_count,
    set_maintainer,
    signup,
    staged_id,
    swept_blob_files,
    version_rows,
)


async def _maintainer_with_2fa(client, clock, name="alice"):
    token = await signup(client, name)
    secret, recovery = await enrol(client, token, clock.now())
    clock.advance(30)
    return token, secret, recovery


async def test_approve_needs_a_code_every_time(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    missing = await client.post(f"/-/stage/{stage_id}/approve", headers=auth(alice))
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "OTP"
    wrong = await client.post(f"/-/stage/{stage_id}/approve", headers=auth(alice, "000000"))
    assert wrong.status_code == 401
    reject_missing = await client.delete(f"/-/stage/{stage_id}", headers=auth(alice))
    assert reject_missing.status_code == 401
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]
    # A good code works once; the same code again is a replay, even for another stage.
    other = await staged_id(client, alice, "pkg-a", "1.1.0")
    otp = code(secret, clock.now())
    ok = await client.post(f"/-/stage/{stage_id}/approve", headers=auth(alice, otp))
    assert ok.status_code == 201, ok.text
    assert "message" in ok.json()
    replay = await client.post(f"/-/stage/{other}/approve", headers=auth(alice, otp))
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]
    assert ("pkg-a", "1.1.0", "staged") in await version_rows(app_ctx)


async def test_approver_without_2fa_is_told_how_to_enrol(client, app_ctx):
    alice = await signup(client, "alice")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    for resp in (
        await client.post(f"/-/stage/{stage_id}/approve", headers=auth(alice, "123456")),
        await client.delete(f"/-/stage/{stage_id}", headers=auth(alice, "123456")),
    ):
        assert resp.status_code == 403
        assert "enable-2fa" in resp.json()["error"]
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]


async def test_approval_publishes_the_staged_bytes_under_the_staged_tag(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    carol = await signup(client, "carol")
    tarball = make_tarball("pkg-a", "2.0.0-rc.1")
    stage_id = await staged_id(client, alice, "pkg-a", "2.0.0-rc.1", tag="next", tarball=tarball)
    resp = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 201, resp.text
    doc = (await client.get("/pkg-a", headers={"accept": "application/json"})).json()
    assert doc["dist-tags"]["next"] == "2.0.0-rc.1"
    npm_user = doc["versions"]["2.0.0-rc.1"]["_npmUser"]
    assert npm_user["name"] == "alice"
    assert npm_user["approver"] == {"name": "alice", "email": "alice@example.com"}
    tgz = await client.get("/pkg-a/-/pkg-a-2.0.0-rc.1.tgz", headers=auth(carol))
    assert tgz.content == tarball
    # It is no longer a stage.
    assert (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).status_code == 404
    assert (await client.get("/-/stage", headers=auth(alice))).json()["total"] == 0


async def test_approving_twice_is_409_and_publishes_once(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    first = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert first.status_code == 201
    clock.advance(30)
    again = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    # The same answer as losing a race: 409 to a maintainer, nothing published twice.
    assert again.status_code == 409
    assert "already been approved" in again.json()["error"]
    carol = await signup(client, "carol")
    # Somebody else still learns nothing.
    assert (
        await client.delete(f"/-/stage/{stage_id}", headers=auth(carol, "1"))
    ).status_code == 404
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "published")]


async def test_reject_deletes_the_record_and_its_blob(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    await client.put(
        "/pkg-a",
        json=publish_body("pkg-a", "0.1.0"),
        headers=auth(alice, code(secret, clock.now())),
    )
    clock.advance(30)
    before = blob_files(app_ctx)
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    assert len(blob_files(app_ctx)) == len(before) + 1
    resp = await client.delete(
        f"/-/stage/{stage_id}", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 200, resp.text
    assert await version_rows(app_ctx) == [("pkg-a", "0.1.0", "published")]
    assert await swept_blob_files(app_ctx) == before
    clock.advance(30)
    gone = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert gone.status_code == 404
    # The number is free again.
    assert (
        await client.post(
            "/-/stage/package/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice)
        )
    ).status_code == 201


async def test_rejecting_the_only_stage_of_a_new_name_frees_the_name(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    bob = await signup(client, "bob")
    stage_id = await staged_id(client, alice, "fresh", "1.0.0")
    resp = await client.delete(
        f"/-/stage/{stage_id}", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 200
    assert await package_count(app_ctx) == 0
    assert (
        await client.post(
            "/-/stage/package/fresh", json=publish_body("fresh", "1.0.0"), headers=auth(bob)
        )
    ).status_code == 201


async def test_approving_a_new_name_makes_it_public_with_the_approver_a_maintainer(
    client, app_ctx, clock
):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    stage_id = await staged_id(client, alice, "fresh", "1.0.0")
    assert (await client.get("/fresh")).status_code == 404
    resp = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 201
    doc = (await client.get("/fresh", headers={"accept": "application/json"})).json()
    assert doc["dist-tags"] == {"latest": "1.0.0"}
    assert [m["name"] for m in doc["maintainers"]] == ["alice"]


async def test_a_changed_blob_is_not_approved(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    async with app_ctx.db.read() as session:
        key = (await session.get(Version, uuid.UUID(stage_id))).blob_key
    app_ctx.blobs.local_path(key).write_bytes(make_tarball("pkg-a", "6.6.6"))
    resp = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 409
    assert "integrity" in resp.json()["error"]
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]
    assert (await client.get("/pkg-a")).status_code == 404


async def test_approving_when_an_equal_version_was_published_meanwhile_is_409_and_keeps_the_stage(
    client, app_ctx, clock
):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    # A version equal under semver (build metadata differs) went public by another path.
    async with app_ctx.db.write() as session:
        staged = await session.get(Version, uuid.UUID(stage_id))
        session.add(
            Version(
                package_id=staged.package_id,
                version="1.0.0+hotfix",
                state="published",
                manifest={"name": "pkg-a", "version": "1.0.0+hotfix"},
                shasum=staged.shasum,
                integrity=staged.integrity,
                size=staged.size,
                created_at=clock.now(),
                published_at=clock.now(),
            )
        )
    resp = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    assert resp.status_code == 409
    assert "kept" in resp.json()["error"]
    assert ("pkg-a", "1.0.0", "staged") in await version_rows(app_ctx)
    assert (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).status_code == 200


async def test_approve_and_reject_refuse_unknown_foreign_and_malformed_ids(client, app_ctx, clock):
    alice, _secret, _ = await _maintainer_with_2fa(client, clock)
    bob, bob_secret, _ = await _maintainer_with_2fa(client, clock, "bob")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    for method, suffix in (("POST", "/approve"), ("DELETE", "")):
        unknown = await client.request(
            method, f"/-/stage/{uuid.uuid4()}{suffix}", headers=auth(alice, "123456")
        )
        assert unknown.status_code == 404
        foreign = await client.request(
            method, f"/-/stage/{stage_id}{suffix}", headers=auth(bob, code(bob_secret, clock.now()))
        )
        assert foreign.status_code == 404
        malformed = await client.request(
            method, f"/-/stage/1234{suffix}", headers=auth(alice, "123456")
        )
        assert malformed.status_code == 400
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]


async def test_approval_records_both_people_in_the_stored_packument(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    bob, bob_secret, _ = await _maintainer_with_2fa(client, clock, "bob")
    first = await staged_id(client, alice, "pkg-a", "1.0.0")
    await client.post(f"/-/stage/{first}/approve", headers=auth(alice, code(secret, clock.now())))
    await set_maintainer(app_ctx, "pkg-a", "bob", True)
    stage_id = await staged_id(client, alice, "pkg-a", "1.1.0")
    resp = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(bob, code(bob_secret, clock.now()))
    )
    assert resp.status_code == 201, resp.text
    async with app_ctx.db.read() as session:
        stored = await session.scalar(select(Package.packument_full).where(Package.name == "pkg-a"))
    assert stored is not None
    doc = orjson.loads(stored)
    assert doc["versions"]["1.1.0"]["_npmUser"]["name"] == "alice"
    assert doc["versions"]["1.1.0"]["_npmUser"]["approver"]["name"] == "bob"


async def test_every_decision_is_in_the_audit_log(client, app_ctx, clock):
    alice, secret, _ = await _maintainer_with_2fa(client, clock)
    approved = await staged_id(client, alice, "pkg-a", "1.0.0")
    rejected = await staged_id(client, alice, "pkg-a", "1.1.0")
    await client.post(
        f"/-/stage/{approved}/approve", headers=auth(alice, code(secret, clock.now()))
    )
    clock.advance(30)
    await client.delete(f"/-/stage/{rejected}", headers=auth(alice, code(secret, clock.now())))
    async with app_ctx.db.read() as session:
        rows = (
            await session.execute(
                select(AuditEvent.event, AuditEvent.version, AuditEvent.details)
                .where(AuditEvent.package == "pkg-a")
                .order_by(AuditEvent.at, AuditEvent.event)
            )
        ).all()
    events = [(e, v, d.get("stage_id")) for e, v, d in rows if e.startswith("package:version:")]
    assert ("package:version:staged", "1.0.0", approved) in events
    assert ("package:version:approved", "1.0.0", approved) in events
    assert ("package:version:rejected", "1.1.0", rejected) in events
