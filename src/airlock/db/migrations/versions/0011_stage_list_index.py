"""Stage listing: one index that serves `npm stage list` in its order (newest first) and
its count without reading version rows (it holds every column the filter needs).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["state", "created_at", "id", "expires_at", "package_id", "actor_id"]


def upgrade() -> None:
    op.create_index("ix_versions_stage_list", "versions", _COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_versions_stage_list", table_name="versions")
