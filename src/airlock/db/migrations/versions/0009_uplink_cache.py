"""uplink cache: processed uplink packuments and their tarballs

Revision ID: 0009
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import airlock.db.base

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uplink_packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=214), nullable=False),
        sa.Column("packument_full", sa.LargeBinary(), nullable=False),
        sa.Column("packument_abbrev", sa.LargeBinary(), nullable=False),
        sa.Column("packument_full_gz", sa.LargeBinary(), nullable=False),
        sa.Column("packument_abbrev_gz", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("upstream_etag", sa.String(length=512), nullable=True),
        sa.Column("upstream_last_modified", sa.String(length=128), nullable=True),
        sa.Column("base_url", sa.String(length=1024), nullable=False),
        sa.Column("checked_at", airlock.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uplink_packages")),
        sa.UniqueConstraint("name", name=op.f("uq_uplink_packages_name")),
    )
    op.create_table(
        "uplink_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("package_name", sa.String(length=214), nullable=False),
        sa.Column("version", sa.String(length=256), nullable=False),
        sa.Column("filename", sa.String(length=512), nullable=False),
        sa.Column("integrity", sa.String(length=1024), nullable=True),
        sa.Column("shasum", sa.String(length=40), nullable=True),
        sa.Column("blob_key", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uplink_versions")),
        sa.UniqueConstraint(
            "package_name", "version", name=op.f("uq_uplink_versions_package_name_version")
        ),
    )
    with op.batch_alter_table("uplink_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_uplink_versions_package_name"), ["package_name"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("uplink_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uplink_versions_package_name"))
    op.drop_table("uplink_versions")
    op.drop_table("uplink_packages")
