"""Removing blobs that no version row points at any more."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from airlock.context import AppContext
from airlock.packages.service import discard_blobs

log = logging.getLogger("airlock.stage")


async def forget_blobs(ctx: AppContext, keys: Iterable[str | None]) -> None:
    """Delete blobs no row references, after the commit that dropped their rows.

    Blobs are content-addressed and may be shared (the same bytes staged again right after
    a rejection), so discard_blobs checks each key first. A failure here only leaves an
    unreferenced blob behind (never a row without its blob), so it is logged, not raised:
    the decision the caller made has been committed.
    """
    try:
        await discard_blobs(ctx, *set(keys))
    except Exception:
        log.exception("could not delete blobs %s", keys)
