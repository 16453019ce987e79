"""Everything a request handler or background job needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from airlock.clock import Clock, SystemClock
from airlock.datafolder import prepare_data_folder
from airlock.db.engine import Database
from airlock.settings import Settings
from airlock.storage.base import BlobStore
from airlock.storage.factory import make_blob_store
from airlock.tokens.lookup import TokenAuthenticator


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    clock: Clock
    tokens: TokenAuthenticator = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = TokenAuthenticator(self.db, self.clock, self.settings.auth_cache_seconds)


def build_context(settings: Settings, clock: Clock | None = None) -> AppContext:
    prepare_data_folder(settings)
    return AppContext(
        settings=settings,
        db=Database(settings.effective_database_url),
        blobs=make_blob_store(settings),
        clock=clock or SystemClock(),
    )
