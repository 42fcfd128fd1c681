"""Member credit by day: each receivable keeps the sums of each day (``asof``), so the
ministry export gives every member's credit as of its date. The read models are rebuilt
from the events, which fills the new column.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rm_receivable", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asof", sa.LargeBinary(), nullable=True))
    restart_read_models(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("rm_receivable", schema=None) as batch_op:
        batch_op.drop_column("asof")
    restart_read_models(op.get_bind())
