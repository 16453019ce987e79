"""Who is acting in the current request: credential kind and id, client address.

Set once per request where the caller is resolved (web.deps.get_principal) and read by
audit.events.record, so every audit row names the credential (never its secret) without
each of the many callers passing it. Outside a request (background jobs) it is "system".
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from airlock.authz.principal import Principal


@dataclass(frozen=True)
class Origin:
    credential_kind: str  # session | granular | oidc | password | anonymous | system
    credential_id: str | None  # the token's id (not its secret)
    client: str | None


SYSTEM = Origin("system", None, None)
_current: ContextVar[Origin] = ContextVar("airlock_audit_origin", default=SYSTEM)


def origin_of(principal: Principal) -> Origin:
    if principal.token is not None:
        return Origin(principal.token.kind.value, str(principal.token.id), principal.client_ip)
    kind = "password" if principal.via == "basic" else principal.via
    return Origin(kind, None, principal.client_ip)


def set_origin(principal: Principal) -> None:
    _current.set(origin_of(principal))


def current() -> Origin:
    return _current.get()
