"""Bearer tokens. Only a SHA-256 hash of the secret is stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)  # npm's "key"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A plain prefix of the secret, safe to list (npm token revoke matches on it).
    display: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # session | granular | oidc
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1024))
    permission: Mapped[str] = mapped_column(String(16))  # read-only | read-write | stage-only
    packages: Mapped[list[str]] = mapped_column(default=list)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    cidr: Mapped[list[str]] = mapped_column(default=list)
    bypass_2fa: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Trusted publishing: the relationship a short-lived token came from, and who it is.
    trust_id: Mapped[uuid.UUID | None]
    trust_permissions: Mapped[list[str]] = mapped_column(default=list)
    trusted_publisher: Mapped[dict[str, Any] | None]
