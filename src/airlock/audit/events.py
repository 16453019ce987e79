"""Audit event names and the one function that records them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.models import AuditEvent
from airlock.clock import Clock


class Event(StrEnum):
    USER_CREATED = "user:created"
    USER_LOGIN = "user:login"
    TOKEN_CREATED = "token:created"
    TOKEN_REVOKED = "token:revoked"
    TFA_ENABLED = "user:2fa:enabled"
    TFA_DISABLED = "user:2fa:disabled"
    VERSION_PUBLISHED = "package:version:published"
    VERSION_STAGED = "package:version:staged"
    VERSION_APPROVED = "package:version:approved"
    VERSION_REJECTED = "package:version:rejected"
    VERSION_EXPIRED = "package:version:expired"
    VERSION_UNPUBLISHED = "package:version:unpublished"
    VERSION_DEPRECATED = "package:version:deprecated"
    PACKAGE_UNPUBLISHED = "package:unpublished"
    DIST_TAG_CHANGED = "package:dist-tag:changed"
    OWNER_CHANGED = "package:owner:changed"
    ACCESS_CHANGED = "package:access:changed"
    TRUST_CREATED = "package:trust:created"
    TRUST_REVOKED = "package:trust:revoked"
    # web UI (branch web)
    WEB_CODE_USED = "user:2fa:web-code:used"
    WEB_SIGNIN = "user:web:signin"


def record(
    session: AsyncSession,
    clock: Clock,
    event: Event,
    *,
    actor: str | None,
    package: str | None = None,
    version: str | None = None,
    **details: Any,
) -> None:
    """Add an audit row to the caller's transaction (it commits or rolls back with it)."""
    session.add(
        AuditEvent(
            at=clock.now(),
            event=event.value,
            actor=actor,
            package=package,
            version=version,
            details=details,
        )
    )
