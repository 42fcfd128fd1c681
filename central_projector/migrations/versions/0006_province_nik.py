"""The same NIK anywhere in the province: NIK groups are keyed by the NIK alone (members
named ``coop_id/member_id``), their conflict items by the NIK's keyed pseudonym. The read
models are rebuilt from the events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central_projector.migrations.rebuild import restart_read_models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _nik_group(coop_in_key: bool) -> None:
    key = ("coop_id", "nik") if coop_in_key else ("nik",)
    op.create_table(
        "rm_nik_group",
        sa.Column("nik", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=not coop_in_key),
        sa.Column("members", sa.LargeBinary(), nullable=True),
        sa.Column("canonical", sa.String(length=64) if coop_in_key else sa.Text(), nullable=True),
        sa.Column("aliases", sa.LargeBinary(), nullable=True),
        sa.Column("collisions", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=False,
    )
    if not coop_in_key:
        op.create_index("ix_rm_nik_group_coop", "rm_nik_group", ["coop_id"])


def upgrade() -> None:
    op.drop_table("rm_nik_group")
    _nik_group(coop_in_key=False)
    restart_read_models(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_rm_nik_group_coop", table_name="rm_nik_group")
    op.drop_table("rm_nik_group")
    _nik_group(coop_in_key=True)
    restart_read_models(op.get_bind())
