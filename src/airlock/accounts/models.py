"""User accounts and their second-factor state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(214), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    fullname: Mapped[str | None] = mapped_column(String(255))
    homepage: Mapped[str | None] = mapped_column(String(1024))
    freenode: Mapped[str | None] = mapped_column(String(255))
    twitter: Mapped[str | None] = mapped_column(String(255))
    github: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Two-factor state. tfa_mode: None (off), "auth-only" or "auth-and-writes".
    tfa_mode: Mapped[str | None] = mapped_column(String(32))
    tfa_pending: Mapped[bool] = mapped_column(default=False)
    # TOTP secret, encrypted with the configured key (never stored in clear).
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Highest TOTP time-step accepted so far: a code at or below it is a replay.
    totp_last_step: Mapped[int | None]
    # The last code accepted and which credential sent it: npm sends one code with every
    # request of a multi-request command (unpublish, revoking several tokens), so that
    # credential may repeat it briefly; anyone else presenting it is replaying it.
    otp_last_code_hash: Mapped[str | None] = mapped_column(String(64))
    otp_last_credential: Mapped[str | None] = mapped_column(String(64))
    otp_last_used_at: Mapped[datetime | None]
    otp_failures: Mapped[int] = mapped_column(default=0)
    otp_locked_until: Mapped[datetime | None]


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None]
