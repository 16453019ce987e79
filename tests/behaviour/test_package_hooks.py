"""Per-package hooks: management API, outbox in the change's transaction, delivery log."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import func, select

from airlock.notifications import delivery
from airlock.notifications.models import OutboxEvent
from tests.e2e.test_webhooks_e2e import Receiver
from tests.support.server import free_port
from tests.support.staging import auth, signup, stage, staged_id

HOOKS = "/-/airlock/v1/package/pkg-h/hooks"
SECRET = "package-hook-secret-123"


async def test_hooks_api_and_delivery_log(client, app_ctx, clock):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await staged_id(client, alice, "pkg-h", "0.1.0")  # before the hook: not sent to it
    clock.advance(1)
    port = free_port()
    url = f"http://127.0.0.1:{port}/in"
    body = {"url": url, "secret": SECRET, "events": ["package:version:staged"]}
    created = await client.post(HOOKS, json=body, headers=auth(alice))
    assert created.status_code == 201, created.text
    hook = created.json()
    assert SECRET not in created.text and hook["events"] == ["package:version:staged"]
    assert (await client.get(HOOKS, headers=auth(alice))).json()["hooks"] == [hook]
    assert (await client.get(HOOKS, headers=auth(bob))).status_code == 404
    assert (await client.post(HOOKS, json=body, headers=auth(bob))).status_code == 404
    for bad in (
        {**body, "url": "ftp://x"},
        {**body, "secret": "short"},
        {**body, "events": ["nope"]},
        {**body, "events": []},
    ):
        resp = await client.post(HOOKS, json=bad, headers=auth(alice))
        assert resp.status_code == 400 and resp.json()["error"], bad

    receiver = Receiver(port)
    try:
        stage_id = await staged_id(client, alice, "pkg-h", "1.0.0")
        await delivery.run_once(app_ctx)
        [(headers, payload)] = receiver.delivered()
        raw = receiver.calls[0][2]
        mac = hmac.new(
            SECRET.encode(), headers["x-airlock-timestamp"].encode() + b"." + raw, hashlib.sha256
        )
        assert headers["x-airlock-signature"] == "sha256=" + mac.hexdigest()
        assert payload["stageId"] == stage_id and payload["event"] == "package:version:staged"
        await delivery.run_once(app_ctx)  # nothing is sent twice
        assert len(receiver.calls) == 1
    finally:
        receiver.close()
    log = (await client.get(f"{HOOKS}/{hook['id']}/deliveries", headers=auth(alice))).json()
    assert [(d["state"], d["attempts"], d["lastStatus"]) for d in log["deliveries"]] == [
        ("delivered", 1, 200)
    ]
    gone = await client.delete(f"{HOOKS}/{hook['id']}", headers=auth(alice))
    assert gone.status_code == 200
    assert (await client.get(HOOKS, headers=auth(alice))).json()["hooks"] == []


async def test_a_refused_change_leaves_no_outbox_row(client, app_ctx):
    alice = await signup(client, "alice")
    await staged_id(client, alice, "pkg-h", "1.0.0")
    async with app_ctx.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(OutboxEvent))
    again = await stage(client, alice, "pkg-h", "1.0.0")  # 409: same version staged twice
    assert again.status_code == 409
    async with app_ctx.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == before


async def test_expiring_soon_is_announced_once_per_stage(client, app_ctx, clock):
    alice = await signup(client, "alice")
    stage_id = await staged_id(client, alice, "pkg-h", "1.0.0")
    assert await delivery.announce_expiring(app_ctx) == 0  # 14 days left: not yet
    clock.advance(14 * 86400 - app_ctx.settings.notify_expiring_seconds + 1)
    assert await delivery.announce_expiring(app_ctx) == 1
    assert await delivery.announce_expiring(app_ctx) == 0
    async with app_ctx.db.read() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.event == "package:version:expiring")
            )
        ).all()
    assert [r.payload["stageId"] for r in rows] == [stage_id]
