"""Webhooks of a package, the outbox of events and the delivery log.

An event is written to `outbox` in the same transaction as the change it reports, so a
committed change always has its event and a rolled-back one never does. The delivery job
turns each outbox row into one `deliveries` row per target and sends them, retrying with
backoff; those rows are the delivery log.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class PackageHook(Base):
    __tablename__ = "package_hooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    # The signing secret, encrypted with the configured secret key.
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    events: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(214))
    created_at: Mapped[datetime]


class OutboxEvent(Base):
    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event: Mapped[str] = mapped_column(String(64))
    package: Mapped[str | None] = mapped_column(String(214))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # Set once the deliveries for it exist (then the row is only history).
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    outbox_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), index=True
    )
    # "hook:<uuid>", "operator:<url>" or "email:<address>".
    target: Mapped[str] = mapped_column(String(2100))
    hook_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("package_hooks.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_at: Mapped[datetime] = mapped_column(index=True)
    # A claim: the process sending it and until when (another may take over afterwards).
    locked_until: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(1024))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
