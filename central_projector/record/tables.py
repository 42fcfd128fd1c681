"""The central system of record (SQLAlchemy Core): devices, events, quarantine, outbox.

``events`` holds every verified event; ``UNIQUE (device_id, seq)`` is the
permanent idempotency key, committed in the same transaction as the event.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(32), primary_key=True),
    sa.Column("coop_id", sa.String(64), nullable=False, index=True),
    sa.Column("public_key", sa.LargeBinary(32), nullable=False),
    sa.Column("registered_at", sa.BigInteger, nullable=False),
    sa.Column("retired", sa.Boolean, nullable=False, default=False),
    # highest seq such that every seq 1..committed_seq is committed, and its hash
    sa.Column("committed_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("committed_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("last_seen", sa.BigInteger, nullable=True),
    sa.Column("quarantined", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.BigInteger, nullable=False, default=0),
    sa.Column("clock_skew", sa.Integer, nullable=False, default=0),
)

# How each device last reached the central: through its cooperative's hub (the hub's name),
# or directly (NULL). Beside ``devices`` so that an existing store gains it by create_all.
device_paths = sa.Table(
    "device_paths",
    metadata,
    sa.Column("device_id", sa.String(32), primary_key=True),
    sa.Column("via", sa.String(64), nullable=True),
    sa.Column("seen_at", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(32), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("coop_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("aggregate_id", sa.String(64), nullable=False),
    sa.Column("hlc_wall", sa.BigInteger, nullable=False),
    sa.Column("hlc_counter", sa.BigInteger, nullable=False),  # 64-bit on every backend
    sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sa.Column("envelope", sa.LargeBinary, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    # committed: in the record and projected; held: waiting behind a gap
    sa.Column("status", sa.String(12), nullable=False),
    # space-separated flags: GAP (applied before a missing predecessor), CLOCK_SKEW
    sa.Column("flags", sa.String(64), nullable=False, default=""),
    sa.UniqueConstraint("device_id", "seq", name="uq_events_device_seq"),
    sa.Index("ix_events_coop", "coop_id", "id"),
    sa.Index("ix_events_status", "status", "device_id", "seq"),
)

gaps = sa.Table(
    "gaps",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(32), nullable=False, index=True),
    sa.Column("from_seq", sa.BigInteger, nullable=False),
    sa.Column("to_seq", sa.BigInteger, nullable=False),
    sa.Column("detected_at", sa.BigInteger, nullable=False),
    # open: events after it wait; timed_out: they were applied and flagged GAP; filled
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("closed_at", sa.BigInteger, nullable=True),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("device_id", sa.String(64), nullable=True, index=True),
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    # set when a later registration re-processed this message
    sa.Column("resolved_at", sa.BigInteger, nullable=True),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("msg_id", sa.String(128), nullable=False),
    sa.Column("headers", sa.Text, nullable=False, default="{}"),
)

central_meta = sa.Table(
    "central_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)
