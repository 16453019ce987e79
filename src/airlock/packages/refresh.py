"""Rebuild stored packuments whose tarball links use an old public URL.

Packuments are built once per change with absolute tarball URLs. When an operator changes
`public_url` (or host/port), the stored documents would point at the old address, so each
server process checks at start-up and rebuilds the stale ones, one package per transaction.
Running it in several processes at once is harmless: a rebuild is idempotent.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select

from airlock.context import AppContext
from airlock.db.engine import mark_changed
from airlock.packages.models import Package
from airlock.packages.service import rebuild_packuments

log = logging.getLogger("airlock")


async def stale_package_ids(ctx: AppContext) -> list[str]:
    base = ctx.settings.base_url
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(Package.name).where(
                Package.packument_full.is_not(None),
                or_(Package.packument_base.is_(None), Package.packument_base != base),
            )
        )
        return list(rows.scalars().all())


async def refresh_packuments(ctx: AppContext) -> int:
    """Rebuild every stale packument; returns how many were rebuilt."""
    names = await stale_package_ids(ctx)
    for name in names:
        async with ctx.db.write() as session:
            package = (
                await session.execute(select(Package).where(Package.name == name))
            ).scalar_one_or_none()
            if package is not None and package.packument_base != ctx.settings.base_url:
                await rebuild_packuments(ctx, session, package)
                mark_changed(session, package.name)
    if names:
        log.info("rebuilt %d packuments for public URL %s", len(names), ctx.settings.base_url)
    return len(names)


async def refresh_packuments_job(ctx: AppContext) -> None:
    """Background job: runs once when the process starts."""
    try:
        await refresh_packuments(ctx)
    except Exception:
        log.exception("refreshing packuments for a new public URL failed")
