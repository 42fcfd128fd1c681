"""A device's clock counter is 64-bit on every backend: ``events.hlc_counter`` BIGINT.

SQLite's INTEGER already holds 64 bits, so only PostgreSQL's column changes type.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("events", "hlc_counter", type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("events", "hlc_counter", type_=sa.Integer(), existing_nullable=False)
