"""Packages, their versions (staged, published or unpublished) and dist-tags.

A staged version is a row in `versions` with state "staged": the unique constraint on
(package_id, version) is the one semver index shared by staged and published versions,
enforced by the database across every Airlock process.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id

# Stored documents are read only by explicit column selects (reads.packument); deferring
# them keeps every other load of a Package row small, and raiseload turns an accidental
# lazy load (blocking IO in async code) into an error instead.
_STORED_DOC: dict[str, Any] = {"deferred": True, "deferred_raiseload": True}


class Package(Base):
    __tablename__ = "packages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(214), unique=True)
    scope: Mapped[str | None] = mapped_column(String(214), index=True)
    access: Mapped[str] = mapped_column(String(16), default="public")  # public | restricted
    mfa_policy: Mapped[str] = mapped_column(String(16), default="none")  # none|publish|automation
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    rev: Mapped[int] = mapped_column(default=1)
    # Pre-built response bodies; None while the package has nothing public to show.
    packument_full: Mapped[bytes | None] = mapped_column(LargeBinary, **_STORED_DOC)
    packument_abbrev: Mapped[bytes | None] = mapped_column(LargeBinary, **_STORED_DOC)
    # The same documents gzip-compressed once, served to clients that accept gzip.
    packument_full_gz: Mapped[bytes | None] = mapped_column(LargeBinary, **_STORED_DOC)
    packument_abbrev_gz: Mapped[bytes | None] = mapped_column(LargeBinary, **_STORED_DOC)
    etag: Mapped[str | None] = mapped_column(String(80))
    # `_rev` of the stored full document ("<rev>-<hash>"), echoed back by npm in -rev paths.
    rev_id: Mapped[str | None] = mapped_column(String(80))
    # The public URL the stored documents' tarball links were built with (see refresh job).
    packument_base: Mapped[str | None] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(String(2048))
    keywords: Mapped[list[str]] = mapped_column(default=list)


class Maintainer(Base):
    __tablename__ = "maintainers"
    __table_args__ = (UniqueConstraint("package_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[datetime]


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("package_id", "version"),
        # One package's versions in a state (migration 0012: the planner took a state-only
        # index and read every row).
        Index("ix_versions_package_state", "package_id", "state"),
        # `npm stage list`: walked newest first and counted without reading rows
        # (stage/queries.py; migration 0011).
        Index(
            "ix_versions_stage_list",
            "state",
            "created_at",
            "id",
            "expires_at",
            "package_id",
            "actor_id",
        ),
    )

    # For a staged version this id is the stage id npm shows.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16))  # staged|published|unpublished
    manifest: Mapped[dict[str, Any]]
    blob_key: Mapped[str | None] = mapped_column(String(512), index=True)
    shasum: Mapped[str] = mapped_column(String(40))
    integrity: Mapped[str] = mapped_column(String(128))
    size: Mapped[int]
    file_count: Mapped[int | None]
    unpacked_size: Mapped[int | None]
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    unpublished_at: Mapped[datetime | None]
    deprecated: Mapped[str | None] = mapped_column(String(2048))
    npm_user: Mapped[dict[str, Any] | None]  # _npmUser
    provenance_key: Mapped[str | None] = mapped_column(String(512), index=True)
    # Staging: tag and access requested, who staged it and when it lapses.
    tag: Mapped[str | None] = mapped_column(String(256))
    requested_access: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(214))
    actor_type: Mapped[str | None] = mapped_column(String(32))
    actor_identity: Mapped[dict[str, Any] | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    approved_by: Mapped[str | None] = mapped_column(String(214))


class DistTag(Base):
    __tablename__ = "dist_tags"
    __table_args__ = (UniqueConstraint("package_id", "tag"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(String(256))
    version: Mapped[str] = mapped_column(String(256))
