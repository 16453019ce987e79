"""What the stage page shows beyond the stage itself: the risk signals and the diff against
the compared version, both from the review services (stage.risk, stage.diff), which take
the StageInfo that queries.view_stage already cleared for this viewer."""

from __future__ import annotations

import logging
from typing import Any

import anyio

from airlock.context import AppContext
from airlock.stage import diff, risk, tarscan
from airlock.stage.schemas import StageInfo
from airlock.storage.base import BlobMissing
from airlock.web.ui import diffview

log = logging.getLogger("airlock.web.review")
MAX_AGAINST = 256


async def details(ctx: AppContext, info: StageInfo, against: str | None) -> dict[str, Any]:
    """Template values: signals, diff (with rendered rows), versions to compare with."""
    against = (against or "").strip()[:MAX_AGAINST] or None
    versions = await risk.published_versions(ctx, info)
    try:
        report = await risk.assess(ctx, info, against)
        body = await diff.stage_diff(ctx, info, against)
    except (BlobMissing, tarscan.UnreadableTarball) as exc:
        log.warning("review unavailable for stage %s: %s", info.id, exc)
        return {"review_error": "The stored tarball cannot be read.", "versions": versions}
    rows = await anyio.to_thread.run_sync(diffview.files, body)
    return {
        "signals": report.signals,
        "diff": body,
        "diff_files": rows,
        "compared_to": report.compared_to,
        "versions": versions,
    }
