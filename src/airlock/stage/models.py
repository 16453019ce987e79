"""Review rules per package and the approvals given so far (four-eyes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class PackagePolicy(Base):
    """`PUT /-/airlock/v1/package/{name}/policy`. No row: no four-eyes, one approval."""

    __tablename__ = "package_policies"

    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True
    )
    four_eyes: Mapped[bool] = mapped_column(default=False)
    approvals_required: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(214))


class StageApproval(Base):
    """One maintainer's approval of a stage that needs more than one."""

    __tablename__ = "stage_approvals"
    __table_args__ = (UniqueConstraint("version_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(214))
    at: Mapped[datetime]
