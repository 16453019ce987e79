"""The blob registry: one row per blob the store may hold, with the time it was last claimed.

A writer claims a key (commits this row) BEFORE it checks for or writes the blob, and
commits the version row that uses it within the grace period. The collector deletes a
blob only in the transaction that deletes its registry row, and only when that row is
older than the grace period and nothing references the key; see packages/blobs.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base


class StoredBlob(Base):
    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(index=True)
