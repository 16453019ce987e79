"""Web 2FA for every write: codes and challenges bound to an action in words and to a
package name (longer than a stage id).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("web_codes", "web_auth_requests"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "target", existing_type=sa.String(length=64), type_=sa.String(length=255)
            )
            batch_op.add_column(sa.Column("action", sa.String(length=300), nullable=True))


def downgrade() -> None:
    for table in ("web_codes", "web_auth_requests"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("action")
            batch_op.alter_column(
                "target", existing_type=sa.String(length=255), type_=sa.String(length=64)
            )
