"""Second-factor state kept per credential (the rest is on `User`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class OtpLockout(Base):
    """Wrong codes counted per credential (a token id, or "password"), so that one stolen
    token guessing codes locks only itself, never its owner's other credentials."""

    __tablename__ = "otp_lockouts"
    __table_args__ = (UniqueConstraint("user_id", "credential"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
