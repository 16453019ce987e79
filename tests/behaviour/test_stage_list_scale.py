"""`npm stage list` over hundreds of stages: every visible stage exactly once across the
pages, newest first, the right total, nothing of others; the sweep of more lapsed stages
than one batch deletes (and audits) every one of them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from airlock.accounts.models import User
from airlock.audit.models import AuditEvent
from airlock.packages.models import Package, Version
from airlock.stage.expiry import SWEEP_BATCH, sweep_expired_stages
from tests.support.packages import publish_body
from tests.support.staging import auth, signup


async def _seed(app_ctx, package, count, *, actor=None, lapsed=False, prefix="9.0"):
    """`count` staged copies of the package's 1.0.0 row, created a millisecond apart (every
    third pair at the same instant: the order then falls back to the id)."""
    async with app_ctx.db.write() as session:
        pkg = (await session.execute(select(Package).where(Package.name == package))).scalar_one()
        first = (
            await session.execute(
                select(Version).where(Version.package_id == pkg.id, Version.version == "1.0.0")
            )
        ).scalar_one()
        actor_id = None
        if actor is not None:
            actor_id = await session.scalar(select(User.id).where(User.name == actor))
        now = app_ctx.clock.now()
        expires = now - timedelta(seconds=1) if lapsed else now + timedelta(days=1)
        ids = []
        for i in range(count):
            row = Version(
                id=uuid.uuid4(),
                package_id=pkg.id,
                version=f"{prefix}.{i}",
                state="staged",
                manifest={**first.manifest, "version": f"{prefix}.{i}"},
                blob_key=first.blob_key,
                shasum=first.shasum,
                integrity=first.integrity,
                size=first.size,
                file_count=first.file_count,
                unpacked_size=first.unpacked_size,
                created_at=now - timedelta(milliseconds=(i // 2) * 2),
                tag="latest",
                actor=actor or "seed",
                actor_id=actor_id,
                actor_type="user",
                expires_at=expires,
            )
            session.add(row)
            ids.append(row)
        await session.flush()
        return [(r.created_at, str(r.id)) for r in ids]


async def _walk(client, token, per_page):
    seen, page, totals = [], 0, set()
    while True:
        resp = await client.get(f"/-/stage?page={page}&perPage={per_page}", headers=auth(token))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        totals.add(body["total"])
        if not body["items"]:
            return seen, totals
        assert len(body["items"]) <= per_page
        seen.extend(item["id"] for item in body["items"])
        page += 1


async def test_pages_list_every_visible_stage_once_newest_first(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    for token, name in ((alice, "pkg-a"), (bob, "pkg-b")):
        resp = await client.put(f"/{name}", json=publish_body(name, "1.0.0"), headers=auth(token))
        assert resp.status_code == 201, resp.text
    mine = await _seed(app_ctx, "pkg-a", 230)
    await _seed(app_ctx, "pkg-a", 20, lapsed=True, prefix="8.0")  # absent before the sweep
    bobs = await _seed(app_ctx, "pkg-b", 15)
    by_alice = await _seed(app_ctx, "pkg-b", 5, actor="alice", prefix="7.0")
    newest_first = [i for _, i in sorted(mine + by_alice, key=lambda r: (r[0], r[1]), reverse=True)]
    for per_page in (100, 7):
        seen, totals = await _walk(client, alice, per_page)
        assert seen == newest_first and totals == {235}
    seen, totals = await _walk(client, bob, 100)
    expected = sorted(bobs + by_alice, key=lambda r: (r[0], r[1]), reverse=True)
    assert seen == [i for _, i in expected] and totals == {20}
    one = (await client.get("/-/stage?package=pkg-b&perPage=3", headers=auth(alice))).json()
    assert one["total"] == 5 and [it["id"] for it in one["items"]] == newest_first_of(by_alice)[:3]


def newest_first_of(rows):
    return [i for _, i in sorted(rows, key=lambda r: (r[0], r[1]), reverse=True)]


async def test_a_sweep_of_many_batches_deletes_and_audits_every_lapsed_stage(client, app_ctx):
    alice = await signup(client, "alice")
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice))
    assert resp.status_code == 201, resp.text
    count = SWEEP_BATCH * 2 + 17
    await _seed(app_ctx, "pkg-a", count, lapsed=True)
    kept = await _seed(app_ctx, "pkg-a", 3, prefix="7.0")
    expired = await sweep_expired_stages(app_ctx)
    assert len(expired) == count and len({e.stage_id for e in expired}) == count
    assert await sweep_expired_stages(app_ctx) == []
    async with app_ctx.db.read() as session:
        left = await session.scalar(
            select(func.count()).select_from(Version).where(Version.state == "staged")
        )
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "package:version:expired")
        )
    assert left == 3 and audited == count
    seen, totals = await _walk(client, alice, 100)
    assert seen == newest_first_of(kept) and totals == {3}
    assert (await client.get("/pkg-a")).status_code == 200
