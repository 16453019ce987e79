"""Who is asking: a frozen snapshot of the user and token scope, safe to cache between requests."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TokenKind(StrEnum):
    SESSION = "session"
    GRANULAR = "granular"
    OIDC = "oidc"


class TokenPermission(StrEnum):
    READ_ONLY = "read-only"
    READ_WRITE = "read-write"
    STAGE_ONLY = "stage-only"


@dataclass(frozen=True)
class UserRef:
    id: uuid.UUID
    name: str
    email: str | None
    tfa_mode: str | None  # None, "auth-only" or "auth-and-writes" (pending counts as None)


@dataclass(frozen=True)
class TokenScope:
    id: uuid.UUID
    kind: TokenKind
    permission: TokenPermission
    packages: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    cidr: tuple[str, ...] = ()
    bypass_2fa: bool = False
    expires_at: datetime | None = None
    trust_id: uuid.UUID | None = None
    trust_permissions: tuple[str, ...] = ()
    trusted_publisher: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    def allows_ip(self, ip: str) -> bool:
        if not self.cidr:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in ipaddress.ip_network(net, strict=False) for net in self.cidr)

    def covers_package(self, name: str) -> bool:
        """Whether the token's package/scope list includes `name` (empty lists: everything)."""
        if not self.packages and not self.scopes:
            return True
        if name in self.packages:
            return True
        scope = name.split("/", 1)[0] if name.startswith("@") else None
        return scope is not None and scope in self.scopes


@dataclass(frozen=True)
class PackageRef:
    """What authorization needs to know about a package the caller already loaded."""

    name: str
    exists: bool
    is_maintainer: bool
    access: str = "public"  # public | restricted
    mfa_policy: str = "none"  # none | publish | automation

    @property
    def visible_to_outsiders(self) -> bool:
        return self.exists and self.access == "public"


@dataclass(frozen=True)
class Principal:
    user: UserRef | None
    token: TokenScope | None
    via: str  # "bearer" | "basic" | "anonymous"
    client_ip: str
    otp: str | None = None

    @property
    def credential(self) -> str:
        """Which credential this is, for per-credential counters (a token id, or
        "password" when a password came with the request)."""
        return str(self.token.id) if self.token is not None else "password"


@dataclass(frozen=True)
class SignedIn(Principal):
    """A caller with an account: routes that need one declare `CurrentUser` (web/deps.py)
    and services take this type, so nobody re-checks `user is None`."""

    user: UserRef

    @classmethod
    def of(cls, principal: Principal) -> SignedIn:
        assert principal.user is not None
        return cls(
            user=principal.user,
            token=principal.token,
            via=principal.via,
            client_ip=principal.client_ip,
            otp=principal.otp,
        )
