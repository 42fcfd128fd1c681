"""Member credit: each member's receivable at her cooperative (credit sold on member credit,
repaid, outstanding, overpaid, by year). The read models are rebuilt from the events.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_receivable",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("sold", sa.BigInteger(), nullable=True),
        sa.Column("sales", sa.BigInteger(), nullable=True),
        sa.Column("repaid", sa.BigInteger(), nullable=True),
        sa.Column("repayments", sa.BigInteger(), nullable=True),
        sa.Column("outstanding", sa.BigInteger(), nullable=True),
        sa.Column("overpaid", sa.BigInteger(), nullable=True),
        sa.Column("by_year", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "member_id"),
        sqlite_with_rowid=False,
    )
    restart_read_models(op.get_bind())


def downgrade() -> None:
    op.drop_table("rm_receivable")
    restart_read_models(op.get_bind())
