"""Trusted-publishing errors. Exchange errors carry npmjs's message prefix."""

from __future__ import annotations

from airlock.errors import AirlockError, BadRequest, Conflict, NotFound

EXCHANGE_PREFIX = "OIDC token exchange error - "


class ExchangeError(AirlockError):
    """The exchange refused an ID token. npm only logs `message` (verbose), so it says why."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(EXCHANGE_PREFIX + reason, status=status)


class IssuerUnavailable(ExchangeError):
    """The issuer's discovery document or keys could not be fetched (not the client's fault)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, status=503)


class InvalidTrustConfig(BadRequest):
    pass


class TrustConflict(Conflict):
    pass


class TrustNotFound(NotFound):
    pass
