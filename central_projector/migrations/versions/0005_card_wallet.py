"""One KHBS card wallet for the aid desk and the shop: a value entitlement's winning
redemption draws on its card (``card_draw``), an overspend names the kinds of debit it
crossed (``kinds_over``), and an entitlement no longer keeps an ``overspend`` of its own
(a duplicate's value is at risk once, as value at risk); sales fall on the cooperative's
local day. The read models are rebuilt from the events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rm_card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kinds_over", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("rm_entitlement", schema=None) as batch_op:
        batch_op.drop_column("overspend")
        batch_op.add_column(sa.Column("card_draw", sa.LargeBinary(), nullable=True))
    restart_read_models(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("rm_entitlement", schema=None) as batch_op:
        batch_op.drop_column("card_draw")
        batch_op.add_column(sa.Column("overspend", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("rm_card", schema=None) as batch_op:
        batch_op.drop_column("kinds_over")
    restart_read_models(op.get_bind())
