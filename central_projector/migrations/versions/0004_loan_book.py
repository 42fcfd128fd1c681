"""Loans with core-banking semantics: principal and interest apart, the allocation per
instalment and the figures per year; the read models are rebuilt from the events.

A flat loan's interest was charged on declining loans too, and write-offs and
"outstanding" included interest never earned: every loan row is recomputed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BIG = ("principal_repaid", "interest_repaid", "overpaid", "outstanding_principal",
        "interest_charged", "interest_outstanding", "recoveries")  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("rm_loan", schema=None) as batch_op:
        batch_op.drop_column("interest")
        batch_op.drop_column("outstanding")
        batch_op.add_column(sa.Column("method", sa.String(length=64), nullable=True))
        for name in _BIG:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("alloc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("by_year", sa.LargeBinary(), nullable=True))
    restart_read_models(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("rm_loan", schema=None) as batch_op:
        for name in ("method", *_BIG, "alloc", "by_year"):
            batch_op.drop_column(name)
        batch_op.add_column(sa.Column("interest", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("outstanding", sa.BigInteger(), nullable=True))
    restart_read_models(op.get_bind())
