"""Every roll-up figure as of a date: each cooperative's figures kept per local day
(``rm_coop_day``, with their running sums in ``rm_coop_total``), and on the member,
savings, fund, entitlement and stock rows the dates they need (``asof``), and on a loan what it
owes by instalment after its last movement (``dues``, ``unpaid_since``, ``last_day``:
its arrears on a later day without a replay); the read models are rebuilt from the
events, which fills the new tables and columns (the backfill).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_DATED = ("rm_member", "rm_savings", "rm_fund", "rm_entitlement", "rm_stock")


def upgrade() -> None:
    op.create_table(
        "rm_coop_day",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("area", sa.String(length=16), nullable=False),
        sa.Column("figure", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "coop_id", "area", "figure"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_coop_total",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("area", sa.String(length=16), nullable=False),
        sa.Column("figure", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("coop_id", "area", "figure"),
        sqlite_with_rowid=False,
    )
    for name in _DATED:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("asof", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("rm_loan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dues", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("unpaid_since", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_day", sa.String(length=64), nullable=True))
    restart_read_models(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("rm_loan", schema=None) as batch_op:
        for name in ("last_day", "unpaid_since", "dues"):
            batch_op.drop_column(name)
    for name in _DATED:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("asof")
    op.drop_table("rm_coop_total")
    op.drop_table("rm_coop_day")
    restart_read_models(op.get_bind())
