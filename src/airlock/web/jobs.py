"""Background jobs each server process runs (they must be safe to run in many processes)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from airlock.context import AppContext

BACKGROUND_JOBS: list[Callable[[AppContext], Coroutine[Any, Any, None]]] = []


def _register_stage_expiry() -> None:
    # Imported here so this module stays a plain list other domains append to.
    from airlock.stage.expiry import stage_expiry_job

    BACKGROUND_JOBS.append(stage_expiry_job)


_register_stage_expiry()


def _register_packument_refresh() -> None:
    from airlock.packages.refresh import refresh_packuments_job

    BACKGROUND_JOBS.append(refresh_packuments_job)


_register_packument_refresh()


def _register_notifications() -> None:
    from airlock.notifications.delivery import notifications_job

    BACKGROUND_JOBS.append(notifications_job)


_register_notifications()


def _register_blob_sweep() -> None:
    from airlock.packages.blobs import blob_sweep_job

    BACKGROUND_JOBS.append(blob_sweep_job)


_register_blob_sweep()
