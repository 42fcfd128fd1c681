"""The RAT basis: a sale keeps its member and member credit, stock its received cost, a
savings account its net movement per year. The read models are rebuilt from the events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 11:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS: dict[str, tuple[tuple[str, Any], ...]] = {
    "rm_sale": (("member_id", sa.String(length=64)), ("credit", sa.BigInteger())),
    "rm_stock": (("cost_qty", sa.BigInteger()), ("cost_value", sa.BigInteger())),
    "rm_savings": (("by_year", sa.LargeBinary()),),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in columns:
                batch_op.add_column(sa.Column(name, type_, nullable=True))
    restart_read_models(op.get_bind())


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in columns:
                batch_op.drop_column(name)
    restart_read_models(op.get_bind())
