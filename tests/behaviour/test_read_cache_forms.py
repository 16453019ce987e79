"""Which packument forms the read cache keeps (packages/readcache.py), and that every form
it serves is the stored one: the gzip form only when one is stored (plain reads decompress
it), the plain form of a large document stored without a gzip form."""

from __future__ import annotations

import gzip

from sqlalchemy import select, update

from airlock.packages.models import Package
from airlock.packages.readcache import ReadCache
from tests.support.packages import publish_body
from tests.support.staging import auth, signup


async def _stored(app_ctx, name):
    async with app_ctx.db.read() as session:
        return (
            await session.execute(
                select(
                    Package.packument_full,
                    Package.packument_full_gz,
                    Package.packument_abbrev,
                    Package.packument_abbrev_gz,
                ).where(Package.name == name)
            )
        ).one()


async def _published(client, app_ctx, name):
    token = await signup(client, "alice")
    resp = await client.put(f"/{name}", json=publish_body(name, "1.0.0"), headers=auth(token))
    assert resp.status_code == 201, resp.text
    return ReadCache(app_ctx.db, max_age=60, max_entries=100, counter=None)


async def test_only_the_stored_gzip_form_is_kept_and_plain_reads_match_the_stored_bytes(
    client, app_ctx
):
    cache = await _published(client, app_ctx, "pkg-a")
    full, full_gz, abbrev, abbrev_gz = await _stored(app_ctx, "pkg-a")
    entry = await cache.entry("pkg-a")
    # Plain first (loads the row), then gzip, then plain again (from the cached gzip form).
    assert await cache.document("pkg-a", entry, False, False) == full
    assert await cache.document("pkg-a", entry, False, True) == full_gz
    assert await cache.document("pkg-a", entry, False, False) == full
    assert await cache.document("pkg-a", entry, True, True) == abbrev_gz
    assert await cache.document("pkg-a", entry, True, False) == abbrev
    assert set(entry.docs) == {(False, True), (True, True)}


async def test_a_document_stored_without_gzip_keeps_its_plain_form(client, app_ctx):
    cache = await _published(client, app_ctx, "pkg-b")
    async with app_ctx.db.write() as session:  # as a document over GZIP_STORED_MAX is stored
        await session.execute(
            update(Package).where(Package.name == "pkg-b").values(packument_full_gz=None)
        )
    full = (await _stored(app_ctx, "pkg-b"))[0]
    entry = await cache.entry("pkg-b")
    packed = await cache.document("pkg-b", entry, False, True)
    assert packed is not None and gzip.decompress(packed) == full
    assert await cache.document("pkg-b", entry, False, False) == full
    assert set(entry.docs) == {(False, False), (False, True)}
