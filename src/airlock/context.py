"""Everything a request handler or background job needs, built once per process.

This module holds only the type; `airlock.bootstrap.build_context` puts the pieces
together (so this foundation module imports no domain above it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from airlock.authz.principal import TokenScope, UserRef
from airlock.clock import Clock
from airlock.db.engine import Database
from airlock.settings import Settings
from airlock.storage.base import BlobStore
from airlock.throttle import WindowCounter


class TokenCache(Protocol):
    """Resolves bearer tokens (tokens.lookup.TokenAuthenticator)."""

    async def authenticate(self, token: str, client_ip: str) -> tuple[UserRef, TokenScope]:
        """The token's user and scope, or Unauthorized saying why not."""
        ...

    def evict(self, token_hash: str | None = None) -> None:
        """Forget one cached token (or all), e.g. after a revocation or a 2FA change."""
        ...


@dataclass
class Throttles:
    """Per-process throttles (see airlock.throttle)."""

    login_account: WindowCounter
    login_address: WindowCounter
    oidc_exchange: WindowCounter

    @classmethod
    def of(cls, settings: Settings) -> Throttles:
        window = settings.login_failure_window_seconds
        return cls(
            login_account=WindowCounter(settings.login_failures_per_account, window),
            login_address=WindowCounter(settings.login_failures_per_address, window),
            oidc_exchange=WindowCounter(settings.oidc_exchanges_per_minute, 60.0),
        )


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    clock: Clock
    tokens: TokenCache
    # The uplink client (uplink.client.Upstream; read it with uplink.client.upstream_of),
    # None without `uplink_url`. Typed loosely so this foundation module imports no domain.
    uplink: object | None = None
    throttles: Throttles = field(init=False)

    def __post_init__(self) -> None:
        self.throttles = Throttles.of(self.settings)

    async def close_uplink(self) -> None:
        close = getattr(self.uplink, "aclose", None)
        if close is not None:
            await close()
