"""Web-issued codes (one browser ceremony for explicit stage ids) in-process: bound to the
account, the decision and the ids; each id once; five minutes; audited with the batch."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from airlock.audit.models import AuditEvent
from airlock.twofactor.web_codes import mint
from tests.support.otp import enrol
from tests.support.staging import auth, signup, staged_id, version_rows


async def _user_id(app_ctx, name):
    from airlock.accounts.service import get_user

    user = await get_user(app_ctx, name)
    assert user is not None
    return user.id


async def test_a_batch_code_approves_exactly_its_ids_once_each(client, app_ctx, clock):
    alice = await signup(client, "alice")
    await enrol(client, alice, clock.now())
    ids = [await staged_id(client, alice, f"pkg-{n}", "1.0.0") for n in "abc"]
    minted = await mint(app_ctx, await _user_id(app_ctx, "alice"), "approve", ids[:2], "totp")
    code = minted.code
    # Wrong decision, or an id outside the batch: refused, nothing changes.
    refused = await client.delete(f"/-/stage/{ids[0]}", headers=auth(alice, code))
    assert refused.status_code == 401 and "not issued" in refused.json()["error"]
    outside = await client.post(f"/-/stage/{ids[2]}/approve", headers=auth(alice, code))
    assert outside.status_code == 401 and "not issued" in outside.json()["error"]
    for sid in ids[:2]:
        ok = await client.post(f"/-/stage/{sid}/approve", headers=auth(alice, code))
        assert ok.status_code == 201, ok.text
    assert ("pkg-c", "1.0.0", "staged") in await version_rows(app_ctx)
    async with app_ctx.db.read() as session:
        used = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.event == "user:2fa:web-code:used")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(e.details["stage_id"] for e in used) == sorted(ids[:2])
    assert {e.details["batch_id"] for e in used} == {str(minted.batch_id)}


async def test_a_code_is_single_use_per_id_expires_and_belongs_to_one_account(
    client, app_ctx, clock
):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await enrol(client, alice, clock.now())
    await enrol(client, bob, clock.now())
    sid = await staged_id(client, alice, "pkg-a", "1.0.0")
    alice_id = await _user_id(app_ctx, "alice")
    # Reject a first version with the code; the id is spent even though a new stage of
    # the same package comes along.
    minted = await mint(app_ctx, alice_id, "reject", [sid], "totp")
    ok = await client.delete(f"/-/stage/{sid}", headers=auth(alice, minted.code))
    assert ok.status_code == 200, ok.text
    # Expired: five minutes.
    sid2 = await staged_id(client, alice, "pkg-a", "1.0.1")
    late = await mint(app_ctx, alice_id, "approve", [sid2], "totp")
    clock.advance(301)
    expired = await client.post(f"/-/stage/{sid2}/approve", headers=auth(alice, late.code))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]
    # Someone else's code is nothing to alice (bob is not a maintainer either way).
    theirs = await mint(app_ctx, await _user_id(app_ctx, "bob"), "approve", [sid2], "totp")
    foreign = await client.post(f"/-/stage/{sid2}/approve", headers=auth(alice, theirs.code))
    assert foreign.status_code == 401
    fresh = await mint(app_ctx, alice_id, "approve", [sid2], "passkey")
    assert (
        await client.post(f"/-/stage/{sid2}/approve", headers=auth(alice, fresh.code))
    ).status_code == 201
    assert uuid.UUID(sid2)


async def test_web_otp_challenge_for_decisions_only(client, app_ctx, clock):
    alice = await signup(client, "alice")
    await enrol(client, alice, clock.now())
    sid = await staged_id(client, alice, "pkg-a", "1.0.0")
    resp = await client.post(
        f"/-/stage/{sid}/approve", headers={**auth(alice), "npm-auth-type": "web"}
    )
    body = resp.json()
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert body["authUrl"].startswith("http://127.0.0.1:4873/-/web/cli/")
    # Opaque ids, not dashed UUIDs (npm masks those as *** off a terminal).
    done_id = body["doneUrl"].rsplit("=", 1)[1]
    assert len(done_id) == 64 and "-" not in done_id
    assert body["authUrl"] in resp.headers["npm-notice"]
    # A CSRF-less POST to the authUrl page changes nothing.
    page = body["authUrl"].removeprefix("http://127.0.0.1:4873")
    refused = await client.post(page, data={"code": "123456"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert (await client.get(body["doneUrl"])).status_code == 202
