"""The composition root: builds an AppContext from settings (the one place that knows
every concrete piece)."""

from __future__ import annotations

from airlock.clock import Clock, SystemClock
from airlock.context import AppContext
from airlock.datafolder import prepare_data_folder
from airlock.db.engine import Database
from airlock.settings import Settings
from airlock.storage.factory import make_blob_store
from airlock.tokens.lookup import TokenAuthenticator
from airlock.uplink.client import Upstream


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    prepare_data_folder(settings)
    db = Database(settings.effective_database_url)
    clock = clock or SystemClock()
    return AppContext(
        settings=settings,
        db=db,
        blobs=make_blob_store(settings),
        clock=clock,
        tokens=TokenAuthenticator(db, clock, settings.auth_cache_seconds),
        uplink=Upstream(settings) if settings.uplink_url else None,
    )
