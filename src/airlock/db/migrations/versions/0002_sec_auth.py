"""sec-auth: per-credential OTP lockouts; trust relationships bound to an issuer

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import airlock.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otp_lockouts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("credential", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", airlock.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_otp_lockouts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_lockouts")),
        sa.UniqueConstraint(
            "user_id", "credential", name=op.f("uq_otp_lockouts_user_id_credential")
        ),
    )
    with op.batch_alter_table("otp_lockouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_otp_lockouts_user_id"), ["user_id"], unique=False)
    # Existing relationships were made for the provider's primary issuer: its name is the
    # provider's own ("github"); extra issuers are named "github:<label>" (settings).
    with op.batch_alter_table("trust_relationships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer", sa.String(length=128), nullable=True))
    op.execute("UPDATE trust_relationships SET issuer = provider")
    with op.batch_alter_table("trust_relationships", schema=None) as batch_op:
        batch_op.alter_column("issuer", existing_type=sa.String(length=128), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("trust_relationships", schema=None) as batch_op:
        batch_op.drop_column("issuer")
    with op.batch_alter_table("otp_lockouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_otp_lockouts_user_id"))
    op.drop_table("otp_lockouts")
