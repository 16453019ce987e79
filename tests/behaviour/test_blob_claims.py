"""Releasing a claim whose write the blob store refused (packages/blobs.py): the registry
row goes back to what it was, and a claim another writer made since is left alone."""

from __future__ import annotations

from sqlalchemy import select

from airlock.packages import blobs
from airlock.storage.models import StoredBlob


async def _claimed_at(ctx, key):
    async with ctx.db.read() as session:
        return await session.scalar(select(StoredBlob.claimed_at).where(StoredBlob.key == key))


async def test_releasing_a_new_claim_removes_its_row(app_ctx):
    claimed = await blobs.claim(app_ctx, ["tarballs/aa/new.tgz"])
    assert await _claimed_at(app_ctx, "tarballs/aa/new.tgz") == claimed.at
    await blobs.release(app_ctx, claimed, ["tarballs/aa/new.tgz"])
    assert await _claimed_at(app_ctx, "tarballs/aa/new.tgz") is None


async def test_releasing_a_renewed_claim_restores_the_earlier_time(app_ctx, clock):
    first = await blobs.claim(app_ctx, ["tarballs/bb/old.tgz"])
    clock.advance(60)
    second = await blobs.claim(app_ctx, ["tarballs/bb/old.tgz"])
    assert second.before == {"tarballs/bb/old.tgz": first.at}
    await blobs.release(app_ctx, second, ["tarballs/bb/old.tgz"])
    assert await _claimed_at(app_ctx, "tarballs/bb/old.tgz") == first.at


async def test_a_claim_made_since_is_left_alone(app_ctx, clock):
    ours = await blobs.claim(app_ctx, ["tarballs/cc/shared.tgz", "tarballs/cc/mine.tgz"])
    clock.advance(1)
    theirs = await blobs.claim(app_ctx, ["tarballs/cc/shared.tgz"])
    await blobs.release(app_ctx, ours, ["tarballs/cc/shared.tgz", "tarballs/cc/mine.tgz"])
    assert await _claimed_at(app_ctx, "tarballs/cc/shared.tgz") == theirs.at
    assert await _claimed_at(app_ctx, "tarballs/cc/mine.tgz") is None
