"""blob registry: claims that make blob garbage collection safe across processes

Revision ID: 0004
Revises: 0001
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import airlock.db.base

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    blobs = op.create_table(
        "blobs",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("claimed_at", airlock.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_blobs")),
    )
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blobs_claimed_at"), ["claimed_at"], unique=False)
    # The collector's reference check looks versions up by blob key.
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versions_blob_key"), ["blob_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_versions_provenance_key"), ["provenance_key"], unique=False
        )
    # Blobs stored before this migration: register the referenced ones (claimed now, so
    # none is collectable before the grace period has passed).
    conn = op.get_bind()
    now = datetime.now(UTC)
    keys: set[str] = set()
    for column in ("blob_key", "provenance_key"):
        rows = conn.execute(sa.text(f"SELECT DISTINCT {column} FROM versions"))  # noqa: S608
        keys.update(row[0] for row in rows if row[0])
    if keys:
        op.bulk_insert(blobs, [{"key": key, "claimed_at": now} for key in sorted(keys)])


def downgrade() -> None:
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versions_provenance_key"))
        batch_op.drop_index(batch_op.f("ix_versions_blob_key"))
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blobs_claimed_at"))
    op.drop_table("blobs")
