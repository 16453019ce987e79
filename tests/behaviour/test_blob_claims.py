"""Blob claims (packages/blobs.py): releasing a claim whose write the blob store refused
puts the registry row back, a claim another writer made since is left alone, and a writer
slower than the grace period still commits a row whose blob exists."""

from __future__ import annotations

from sqlalchemy import select

from airlock.accounts.service import create_user
from airlock.authz.principal import Principal
from airlock.packages import blobs
from airlock.packages.models import Version
from airlock.packages.service import store_upload_blobs
from airlock.packages.upload import parse_publish_body
from airlock.packages.write import PUBLISH, write_version_rows
from airlock.storage.models import StoredBlob
from airlock.tokens.lookup import user_ref


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


async def test_a_writer_slower_than_the_grace_period_keeps_its_blob(app_ctx, clock):
    """Claim, then longer than `blob_grace_seconds` before the row commits, with a collector
    in between: the row still commits pointing at a blob that exists (hold writes it again)."""
    from tests.support.packages import publish_body

    user = await create_user(app_ctx, "slow", "correct-horse-9", None)
    principal = Principal(user=user_ref(user), token=None, via="basic", client_ip="127.0.0.1")
    upload = await parse_publish_body(
        app_ctx.settings, "slow-pkg", publish_body("slow-pkg", "1.0.0")
    )
    keys = await store_upload_blobs(app_ctx, upload)
    clock.advance(app_ctx.settings.blob_grace_seconds + 1)
    assert await blobs.collect(app_ctx, [keys[0]]) == 1  # the collector took it meanwhile
    assert not await app_ctx.blobs.exists(keys[0])
    async with app_ctx.db.write() as session:
        await write_version_rows(app_ctx, session, principal, upload, keys, PUBLISH)
    assert await app_ctx.blobs.exists(keys[0])
    assert await _claimed_at(app_ctx, keys[0]) == clock.now()
    async with app_ctx.db.read() as session:
        row = await session.scalar(select(Version).where(Version.blob_key == keys[0]))
    assert row is not None and row.state == "published"
    # And once the row is committed, no collector may take it, however old the claim.
    clock.advance(app_ctx.settings.blob_grace_seconds + 1)
    assert await blobs.collect(app_ctx, [keys[0]]) == 0
    assert await app_ctx.blobs.exists(keys[0])
