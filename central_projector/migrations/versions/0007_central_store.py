"""The central store under migration too: devices, events, gaps, quarantine, outbox,
central_meta, the partition leases, the console's operators and the scale-out stages'
tables. Before this revision the code created them itself when missing; a store made that
way already has them, with these columns, so a table that exists is kept as it is (the
store is adopted) and only the missing ones are created.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:05:00.000000
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _devices() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(32), primary_key=True),
        sa.Column("coop_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("committed_seq", sa.BigInteger, nullable=False),
        sa.Column("committed_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=True),
        sa.Column("quarantined", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("clock_skew", sa.Integer, nullable=False),
    )
    op.create_index("ix_devices_coop_id", "devices", ["coop_id"])


def _events() -> None:
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("coop_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("hlc_wall", sa.BigInteger, nullable=False),
        sa.Column("hlc_counter", sa.Integer, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("flags", sa.String(64), nullable=False),
        sa.UniqueConstraint("device_id", "seq", name="uq_events_device_seq"),
    )
    op.create_index("ix_events_coop", "events", ["coop_id", "id"])
    op.create_index("ix_events_status", "events", ["status", "device_id", "seq"])


def _gaps() -> None:
    op.create_table(
        "gaps",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(32), nullable=False),
        sa.Column("from_seq", sa.BigInteger, nullable=False),
        sa.Column("to_seq", sa.BigInteger, nullable=False),
        sa.Column("detected_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("closed_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_gaps_device_id", "gaps", ["device_id"])


def _quarantine() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_quarantine_reason", "quarantine", ["reason"])
    op.create_index("ix_quarantine_device_id", "quarantine", ["device_id"])


def _outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("msg_id", sa.String(128), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
    )


def _central_meta() -> None:
    op.create_table(
        "central_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )


def _leases() -> None:
    op.create_table(
        "kop_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )


def _operators() -> None:
    op.create_table(
        "console_operators",
        sa.Column("operator_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("password", sa.Text, nullable=False),
        sa.Column("regions", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def _stage_held() -> None:
    op.create_table(
        "rm_stage_held",
        sa.Column("stage", sa.String(64), primary_key=True),
        sa.Column("event_pk", sa.BigInteger, primary_key=True, autoincrement=False),
    )


def _stage_shadow() -> None:
    op.create_table(
        "rm_stage_shadow",
        sa.Column("stage", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("key", sa.LargeBinary(512), primary_key=True),
        sa.Column("row", sa.LargeBinary, nullable=False),
    )


TABLES: dict[str, Callable[[], None]] = {
    "devices": _devices,
    "events": _events,
    "gaps": _gaps,
    "quarantine": _quarantine,
    "outbox": _outbox,
    "central_meta": _central_meta,
    "kop_leases": _leases,
    "console_operators": _operators,
    "rm_stage_held": _stage_held,
    "rm_stage_shadow": _stage_shadow,
}


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in present:
            create()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
