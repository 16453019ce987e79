"""Blob lifetime: the one way blobs are claimed before use and the one way they are deleted.

Blobs are content-addressed, so one blob may serve several rows (the same bytes staged
again right after a rejection, a retried publish). Deleting one after a check in another
transaction loses data: a new row can commit between the check and the delete (reliability
review D1). So:

- A writer `claim`s its keys (commits `blobs.claimed_at = now`) BEFORE it looks for or
  writes the blob, and `hold`s them again inside the transaction that commits the row
  using them: the claim is renewed under the registry row's lock, so a writer slower than
  `blob_grace_seconds` (a loaded machine, a slow store) cannot lose its blob to a collector
  that ran in between; if one did, `hold` writes the blob again before the row commits.
- A write the blob store refused outright (`StorageUnavailable.nothing_written`: access
  denied, no such bucket) `release`s the keys it did not write: each registry row goes
  back to what it was before the claim (gone if the claim created it), unless another
  writer claimed it since. Releasing never deletes a blob, so it cannot lose data. After
  an ambiguous failure (a timeout: the PUT may have landed) the claim stays, so the
  sweep removes whatever may have been written once the grace period is over.
- `collect` deletes a blob only inside the transaction that deletes its registry row, with
  one conditional DELETE: the row is older than the grace period and no reference exists.
  A concurrent claim either committed first (the row is fresh: kept) or waits for that
  row lock and then finds the blob gone and writes it again (the writer checks after it
  claimed). Every deletion path (rejection, failed publish, unpublish, expiry) calls
  `collect`; the periodic sweep calls it for everything else, including what a crash left
  between a claim and the row (review D7).

A table that points at blobs must be listed in BLOB_REFERENCES (other domains append).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from airlock.context import AppContext
from airlock.packages.models import Version
from airlock.storage.models import StoredBlob

log = logging.getLogger("airlock.blobs")

# Columns holding blob keys; a key any of them holds is never collected.
BLOB_REFERENCES: list[InstrumentedAttribute[Any]] = [Version.blob_key, Version.provenance_key]

_BATCH = 200


@dataclass(frozen=True)
class Claim:
    """What `release` needs to undo a claim: its time and each row's time before it."""

    at: datetime
    before: dict[str, datetime | None]


async def claim(ctx: AppContext, keys: Iterable[str | None]) -> Claim:
    """Mark keys as in use now (own committed transaction), before checking or writing them."""
    wanted = sorted({k for k in keys if k})
    now = ctx.clock.now()
    if not wanted:
        return Claim(now, {})
    async with ctx.db.write() as session:
        # Core statements built once, on the connection: a publish claims in its own
        # transaction, and the ORM layer cost more than the two statements.
        conn = await session.connection()
        rows = await conn.execute(_CLAIMED, {"keys": wanted})
        before: dict[str, datetime | None] = dict.fromkeys(wanted)
        before.update({key: at for key, at in rows})
        await conn.execute(_upsert(ctx), [{"key": k, "claimed_at": now} for k in wanted])
    return Claim(now, before)


_BLOBS = StoredBlob.__table__
_CLAIMED = (
    select(_BLOBS.c.key, _BLOBS.c.claimed_at)
    .where(_BLOBS.c.key.in_(bindparam("keys", expanding=True)))
    .with_for_update()
)


_UPSERTS: dict[bool, Any] = {}


def _upsert(ctx: AppContext) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE claimed_at, built once per dialect. The
    dialect is imported on first use: PostgreSQL's (~4 MiB) stays out of SQLite processes,
    and SQLite's out of PostgreSQL ones."""
    is_sqlite = ctx.db.is_sqlite
    if is_sqlite not in _UPSERTS:
        if is_sqlite:
            from sqlalchemy.dialects import sqlite as dialect
        else:
            from sqlalchemy.dialects import postgresql as dialect  # type: ignore[no-redef]
        stmt = dialect.insert(StoredBlob)
        _UPSERTS[is_sqlite] = stmt.on_conflict_do_update(
            index_elements=["key"], set_={"claimed_at": stmt.excluded.claimed_at}
        )
    return _UPSERTS[is_sqlite]


async def release(ctx: AppContext, claimed: Claim, keys: Iterable[str]) -> None:
    """Undo the claim of `keys`, whose blobs the store refused to write (nothing written).

    A row another writer claimed since (a different time) is left alone. Never raises: a
    claim left behind is only removed by the sweep a little later."""
    try:
        async with ctx.db.write() as session:
            for key in sorted(set(keys)):
                if key not in claimed.before:
                    continue
                ours = (StoredBlob.key == key) & (StoredBlob.claimed_at == claimed.at)
                previous = claimed.before[key]
                if previous is None:
                    await session.execute(
                        delete(StoredBlob).where(ours, _unreferenced(StoredBlob.key))
                    )
                else:
                    await session.execute(
                        update(StoredBlob).where(ours).values(claimed_at=previous)
                    )
    except Exception:
        log.exception("could not release the claim of %s (the sweep removes it)", keys)


async def hold(ctx: AppContext, session: AsyncSession, wanted: dict[str, bytes]) -> None:
    """Inside the write transaction of the rows that use `wanted` (key -> the blob's bytes):
    renew their claims, under the registry rows' locks until commit. A key whose registry
    row is gone was collected since `claim` (the writer took longer than the grace period):
    its blob is written again and its row restored, so the committed row never points at
    nothing."""
    if not wanted:
        return
    now = ctx.clock.now()
    held = set(
        (
            await session.execute(
                update(StoredBlob)
                .where(StoredBlob.key.in_(sorted(wanted)))
                .values(claimed_at=now)
                .returning(StoredBlob.key)
            )
        ).scalars()
    )
    for key in sorted(set(wanted) - held):
        log.warning("blob %s was collected before its row committed; writing it again", key)
        await ctx.blobs.put(key, wanted[key])
        await session.execute(_upsert(ctx), [{"key": key, "claimed_at": now}])


def _unreferenced(key: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    clauses = [~exists().where(column == key) for column in BLOB_REFERENCES]
    condition = clauses[0]
    for clause in clauses[1:]:
        condition = condition & clause
    return condition


async def _collect_one(ctx: AppContext, key: str, cutoff: datetime) -> bool:
    async with ctx.db.write() as session:
        gone = await session.scalar(
            delete(StoredBlob)
            .where(
                StoredBlob.key == key,
                StoredBlob.claimed_at < cutoff,
                _unreferenced(StoredBlob.key),
            )
            .returning(StoredBlob.key)
        )
        if gone is None:
            return False
        # Still inside the transaction that holds the registry row: a failed delete rolls
        # the row back and the next sweep tries again.
        await ctx.blobs.delete(key)
    return True


def _cutoff(ctx: AppContext) -> datetime:
    return ctx.clock.now() - timedelta(seconds=ctx.settings.blob_grace_seconds)


async def collect(ctx: AppContext, keys: Iterable[str | None]) -> int:
    """Delete those of `keys` that are unreferenced and past the grace period.

    Called after a commit that dropped references (or after a failed write). Keys still
    within the grace period are left to the sweep. Never raises: a failure only leaves an
    unreferenced blob behind for the next sweep, never a row without its blob.
    """
    removed = 0
    cutoff = _cutoff(ctx)
    for key in sorted({k for k in keys if k}):
        try:
            removed += await _collect_one(ctx, key, cutoff)
        except Exception:
            log.exception("could not delete blob %s (the sweep retries)", key)
    return removed


async def candidates(session: AsyncSession, cutoff: datetime, limit: int = _BATCH) -> list[str]:
    rows = await session.scalars(
        select(StoredBlob.key)
        .where(StoredBlob.claimed_at < cutoff, _unreferenced(StoredBlob.key))
        .order_by(StoredBlob.claimed_at)
        .limit(limit)
    )
    return list(rows)


async def sweep(ctx: AppContext) -> int:
    """Delete every unreferenced blob past the grace period, and stale temp uploads."""
    removed = 0
    cutoff = _cutoff(ctx)
    while True:
        async with ctx.db.read() as session:
            keys = await candidates(session, cutoff)
        if not keys:
            break
        batch = await collect(ctx, keys)
        removed += batch
        if batch == 0:
            break  # only failures left: retried next sweep
    removed_temp = await ctx.blobs.sweep_incomplete(ctx.settings.blob_grace_seconds)
    if removed or removed_temp:
        log.info("blob sweep removed %d blob(s), %d incomplete upload(s)", removed, removed_temp)
    return removed


async def blob_sweep_job(ctx: AppContext) -> None:
    """Background job: sweep at start-up, then every `blob_sweep_seconds` (safe in many
    processes: each deletion is a conditional DELETE, so one process wins each key)."""
    while True:
        try:
            await sweep(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("blob sweep failed")
        await asyncio.sleep(ctx.settings.blob_sweep_seconds)
