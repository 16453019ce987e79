"""Writing events to the outbox, inside the transaction of the change they report."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.models import AuditEvent
from airlock.notifications.models import OutboxEvent

# Audit events that notify, under the names webhooks subscribe to.
NOTIFY = frozenset(
    {
        "package:version:staged",
        "package:version:approved",
        "package:version:approval-recorded",
        "package:version:rejected",
        "package:version:expired",
        "package:version:expiring",
        "package:version:published",
        "package:version:unpublished",
        "package:unpublished",
        "package:dist-tag:changed",
        "package:owner:changed",
        "package:trust:created",
        "package:trust:revoked",
    }
)


def payload(row: AuditEvent) -> dict[str, Any]:
    details = row.details or {}
    body: dict[str, Any] = {
        "event": row.event,
        "package": row.package,
        "version": row.version,
        "stageId": details.get("stage_id"),
        "actor": row.actor,
        "time": row.at.isoformat().replace("+00:00", "Z"),
    }
    extra = {k: v for k, v in details.items() if k != "stage_id"}
    if extra:
        body["details"] = extra
    return body


def enqueue(session: AsyncSession, row: AuditEvent) -> None:
    outbox = outbox_row(row)
    if outbox is not None:
        session.add(outbox)


def outbox_row(row: AuditEvent) -> OutboxEvent | None:
    """The outbox row an audit event gives (None: nobody is notified of it)."""
    if row.event not in NOTIFY:
        return None
    return OutboxEvent(
        id=uuid.uuid4(),
        event=row.event,
        package=row.package,
        payload=payload(row),
        created_at=row.at,
        dispatched_at=None,
    )
