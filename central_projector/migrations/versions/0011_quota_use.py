"""Quota goods: what a cooperative received and sold of an item in a month against its
quota (QUOTA_EXCEEDED). The read models are rebuilt from the events.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 11:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_quota_use",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=True),
        sa.Column("sold", sa.BigInteger(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "sku", "period"),
        sqlite_with_rowid=False,
    )
    restart_read_models(op.get_bind())


def downgrade() -> None:
    op.drop_table("rm_quota_use")
    restart_read_models(op.get_bind())
