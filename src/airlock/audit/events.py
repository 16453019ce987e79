"""Audit event names and the one way they are recorded (`record`, or `insert_record` on
hot write paths: the same rows from the same builder)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.models import AuditEvent
from airlock.audit.origin import current as current_origin
from airlock.clock import Clock
from airlock.db.base import table_of
from airlock.notifications.models import OutboxEvent
from airlock.notifications.outbox import enqueue, outbox_row
from airlock.observability.metrics import note_event


class Event(StrEnum):
    USER_CREATED = "user:created"
    USER_LOGIN = "user:login"
    TOKEN_CREATED = "token:created"
    TOKEN_REVOKED = "token:revoked"
    TFA_ENABLED = "user:2fa:enabled"
    TFA_DISABLED = "user:2fa:disabled"
    OTP_LOCKED = "user:2fa:locked"
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
    # Review (four-eyes, notifications).
    POLICY_CHANGED = "package:policy:changed"
    VERSION_APPROVAL_RECORDED = "package:version:approval-recorded"
    VERSION_EXPIRING = "package:version:expiring"
    HOOK_CHANGED = "package:hook:changed"
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
    """Add an audit row to the caller's transaction (it commits or rolls back with it).

    Events people are notified of also go to the outbox, in the same transaction.
    """
    row = _row(session, clock, event, actor, package, version, details)
    session.add(row)
    enqueue(session, row)


async def insert_record(
    session: AsyncSession,
    clock: Clock,
    event: Event,
    *,
    actor: str | None,
    package: str | None = None,
    version: str | None = None,
    **details: Any,
) -> None:
    """`record`, written at once with Core INSERTs (the publish path: the ORM's unit of
    work cost more than the two rows). The same rows, in the caller's transaction; the
    session does not track them."""
    row = _row(session, clock, event, actor, package, version, details)
    conn = await session.connection()
    await conn.execute(_INSERT_AUDIT, _values(row, _AUDIT))
    outbox = outbox_row(row)
    if outbox is not None:
        await conn.execute(_INSERT_OUTBOX, _values(outbox, _OUTBOX))


def _row(
    session: AsyncSession,
    clock: Clock,
    event: Event,
    actor: str | None,
    package: str | None,
    version: str | None,
    details: dict[str, Any],
) -> AuditEvent:
    note_event(session, event.value)  # counted in the metrics when the transaction commits
    origin = current_origin()
    return AuditEvent(
        id=uuid.uuid4(),
        at=clock.now(),
        event=event.value,
        actor=actor,
        package=package,
        version=version,
        details=details,
        credential_kind=origin.credential_kind,
        credential_id=origin.credential_id,
        client=origin.client,
    )


_AUDIT = table_of(AuditEvent)
_OUTBOX = table_of(OutboxEvent)
_INSERT_AUDIT = insert(_AUDIT)
_INSERT_OUTBOX = insert(_OUTBOX)


def _values(row: Any, table: Table) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in table.columns}
