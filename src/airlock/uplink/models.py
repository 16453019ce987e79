"""The uplink cache: processed packuments and the tarballs fetched for them.

Kept apart from `packages`: a cached uplink name is never a local record, so it can never
make a name hosted, and a hosted name never reads these tables.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class UplinkPackage(Base):
    __tablename__ = "uplink_packages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(214), unique=True)
    packument_full: Mapped[bytes] = mapped_column(LargeBinary)
    packument_abbrev: Mapped[bytes] = mapped_column(LargeBinary)
    packument_full_gz: Mapped[bytes] = mapped_column(LargeBinary)
    packument_abbrev_gz: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(80))
    # Validators the uplink gave, sent back on revalidation (If-None-Match / If-Modified-Since).
    upstream_etag: Mapped[str | None] = mapped_column(String(512))
    upstream_last_modified: Mapped[str | None] = mapped_column(String(128))
    # The public URL the tarball links were built with; a change forces a full refetch.
    base_url: Mapped[str] = mapped_column(String(1024))
    checked_at: Mapped[datetime]


class UplinkVersion(Base):
    __tablename__ = "uplink_versions"
    __table_args__ = (UniqueConstraint("package_name", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    package_name: Mapped[str] = mapped_column(String(214), index=True)
    version: Mapped[str] = mapped_column(String(256))
    filename: Mapped[str] = mapped_column(String(512))
    integrity: Mapped[str | None] = mapped_column(String(1024))
    shasum: Mapped[str | None] = mapped_column(String(40))
    # Set once the tarball was fetched and checked; None until the first request for it.
    blob_key: Mapped[str | None] = mapped_column(String(512))
