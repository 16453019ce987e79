"""Versions of one package in one state: an index on (package_id, state) instead of state.

SQLite's planner, without statistics, chose the one-column `state` index for
`package_id = ? AND state = ?`, which matches nearly every row: at 8,000 versions each
such query (packument rebuilds, search, the tarball map) read every version row (~40 ms
instead of 0.1 ms). Listing by state alone is served by `ix_versions_stage_list`
(migration 0011), whose first column is the state.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_versions_package_state", "versions", ["package_id", "state"])
    op.drop_index("ix_versions_state", table_name="versions")


def downgrade() -> None:
    op.create_index("ix_versions_state", "versions", ["state"])
    op.drop_index("ix_versions_package_state", table_name="versions")
