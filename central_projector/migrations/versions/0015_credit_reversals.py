"""Member-credit repayment reversals: each repayment and the reversals naming it
(``rm_credit_repayment``), so a reversal cancels its repayment once, in any order. The
read models are rebuilt from the events.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_credit_repayment",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("day", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("seen", sa.Boolean(), nullable=True),
        sa.Column("reversals", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "event_id"),
        sqlite_with_rowid=False,
    )
    restart_read_models(op.get_bind())


def downgrade() -> None:
    op.drop_table("rm_credit_repayment")
    restart_read_models(op.get_bind())
