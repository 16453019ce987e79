"""Expiry of stages nobody decided on: rows deleted, blobs removed, version numbers freed.

Safe in many processes at once: each batch is one `DELETE ... WHERE id IN (...) AND
expires_at <= now RETURNING`, so each expired row is deleted (and reported) by exactly one
process.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event, record
from airlock.context import AppContext
from airlock.packages.models import Package, Version
from airlock.stage.cleanup import forget_blobs
from airlock.stage.repository import STAGED, release_empty_reservations

log = logging.getLogger("airlock.stage")


@dataclass(frozen=True)
class Expired:
    package: str
    version: str
    stage_id: str


# Stages deleted per transaction: a sweep of 10,000 lapsed stages is many short
# transactions (each one complete: rows, audit events, blobs), with the event loop free
# for requests in between, instead of one long one.
SWEEP_BATCH = 200


async def sweep_expired_stages(ctx: AppContext) -> list[Expired]:
    """Delete every stage whose time is up; returns what was deleted."""
    expired: list[Expired] = []
    while True:
        batch, more = await _sweep_batch(ctx)
        expired.extend(batch)
        if not more:
            return expired
        await asyncio.sleep(0)  # let requests waiting on the loop go first


async def _sweep_batch(ctx: AppContext) -> tuple[list[Expired], bool]:
    """Delete up to SWEEP_BATCH lapsed stages in one transaction; (deleted, maybe more)."""
    now = ctx.clock.now()
    lapsed = (Version.state == STAGED) & (Version.expires_at <= now)
    async with ctx.db.write() as session:
        found = (
            await session.execute(
                select(Version.id, Version.package_id)
                .where(lapsed)
                .order_by(Version.expires_at, Version.id)
                .limit(SWEEP_BATCH)
            )
        ).all()
        if not found:
            return [], False
        ids = [row.id for row in found]
        # Lock the packages first, in id order: every writer takes the package row before
        # its versions, so taking them in the same order means a sweep and a publish that
        # replaces the same lapsed stage wait for each other instead of deadlocking
        # (PostgreSQL; SQLite runs one writer at a time).
        package_ids = {row.package_id for row in found}
        await session.execute(
            select(Package.id)
            .where(Package.id.in_(package_ids))
            .order_by(Package.id)
            .with_for_update()
        )
        result = await session.execute(
            delete(Version)
            .where(lapsed, Version.id.in_(ids))
            .returning(
                Version.id,
                Version.package_id,
                Version.version,
                Version.blob_key,
                Version.provenance_key,
            )
        )
        rows = result.all()
        if not rows:
            # Taken meanwhile (another process's sweep, or a publish replacing them).
            return [], len(found) == SWEEP_BATCH
        package_ids = {row.package_id for row in rows}
        names = await _names(session, package_ids)
        expired = [Expired(names.get(r.package_id, "?"), r.version, str(r.id)) for r in rows]
        for item in expired:
            record(
                session,
                ctx.clock,
                Event.VERSION_EXPIRED,
                actor=None,
                package=item.package,
                version=item.version,
                stage_id=item.stage_id,
            )
        await release_empty_reservations(session, package_ids)
    await forget_blobs(ctx, [key for r in rows for key in (r.blob_key, r.provenance_key)])
    return expired, len(found) == SWEEP_BATCH


async def _names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(Package.id, Package.name).where(Package.id.in_(ids)))
    return {row.id: row.name for row in rows}


async def stage_expiry_job(ctx: AppContext) -> None:
    """Background job: sweep at start-up, then every `expiry_sweep_seconds`."""
    while True:
        try:
            expired = await sweep_expired_stages(ctx)
            if expired:
                log.info("expired %d stage(s)", len(expired))
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not end the loop: the next sweep catches up.
            log.exception("stage expiry sweep failed")
        await asyncio.sleep(ctx.settings.expiry_sweep_seconds)
