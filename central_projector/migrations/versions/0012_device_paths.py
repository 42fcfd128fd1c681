"""How each device last reached the central: ``device_paths`` (its cooperative's hub, or none),
for ``kopsync central status``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A store adopted from before migrations (its tables made from the models) may hold it.
    if "device_paths" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "device_paths",
        sa.Column("device_id", sa.String(32), primary_key=True),
        sa.Column("via", sa.String(64), nullable=True),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("device_paths")
