"""Trust relationships between a package and a CI workflow, and ID tokens already used."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class TrustRelationship(Base):
    """One `npm trust <provider>` configuration. A package may have several."""

    __tablename__ = "trust_relationships"
    # The same provider and claims twice on one package is a conflict (409), enforced
    # by the database so two concurrent `npm trust` calls cannot both win.
    __table_args__ = (UniqueConstraint("package_id", "fingerprint"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))  # github | gitlab | circleci
    # Which configured issuer: the provider's primary one is named like the provider
    # ("github"); extra issuers by their settings key ("github:ghes"). An ID token from
    # any other issuer of the same provider does not match.
    issuer: Mapped[str] = mapped_column(String(128))
    # The claims exactly as npm sends them (shape per provider, see oidc/providers.py).
    claims: Mapped[dict[str, Any]]
    permissions: Mapped[list[str]] = mapped_column(default=list)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The maintainer who created it: short-lived tokens act on their behalf.
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class UsedIdToken(Base):
    """An ID token (issuer + jti) already exchanged: each may be used once.

    Rows are kept until the ID token itself expires, then pruned by a background job.
    """

    __tablename__ = "oidc_used_tokens"
    __table_args__ = (UniqueConstraint("issuer", "jti"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    issuer: Mapped[str] = mapped_column(String(512))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(index=True)
