"""Removing blobs that no version row points at any more."""

from __future__ import annotations

from collections.abc import Iterable

from airlock.context import AppContext
from airlock.packages import blobs


async def forget_blobs(ctx: AppContext, keys: Iterable[str | None]) -> None:
    """After the commit that dropped their rows: the one safe deletion (packages/blobs.py).

    Blobs are content-addressed and may be shared (the same bytes staged again right after
    a rejection), so only unreferenced blobs past their grace period go now; the sweep
    takes the rest. Failures are logged there, never raised: the decision the caller made
    has been committed.
    """
    await blobs.collect(ctx, keys)
