"""Replay: a generation number on the projector position, and the live position row itself.

A replay (``kopsync central replay``) swaps rebuilt read models in without moving the
position; the generation it bumps tells a running projector that its cached rows are
stale. The live ``main`` row is created here (position 0) so that a replay and a
projector always have a row to lock, even before the first projection.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rm_projector_position", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute(
        "INSERT INTO rm_projector_position (name, position, events, updated_at, generation) "
        "SELECT 'main', 0, 0, 0, 0 WHERE NOT EXISTS "
        "(SELECT 1 FROM rm_projector_position WHERE name = 'main')"
    )


def downgrade() -> None:
    with op.batch_alter_table("rm_projector_position", schema=None) as batch_op:
        batch_op.drop_column("generation")
