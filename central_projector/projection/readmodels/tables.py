"""The read-model tables (SQLAlchemy 2.x Core), one per row kind of the pure folds.

Each table's columns are the keys of the rows its fold writes (see the area modules of
:mod:`central_projector.projection.folds`), so the adapter moves rows in and out without mapping.
Money and counts are BIGINT, identifiers and statuses strings; lists and maps (order
keys, redemption lists, profiles) are *documents*: canonical msgpack in a binary column
(:func:`pack`/:func:`unpack`), the project's wire format, several times faster to write
and read than JSON text. On SQLite the tables are ``WITHOUT ROWID`` (clustered on their
key: one B-tree per upsert instead of two). Table names start with ``rm_`` to keep clear
of the central store's tables in the same database. The schema is created and upgraded
by the Alembic migrations under ``central_projector/migrations``
(`kopsync central migrate`, :func:`central_projector.migrations.state.upgrade`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgpack
import sqlalchemy as sa

metadata = sa.MetaData()

S, B, F, J, T = "str", "big", "bool", "doc", "text"  # column kinds of SPEC
_TYPES: dict[str, Callable[[], Any]] = {
    S: lambda: sa.String(64),
    B: lambda: sa.BigInteger(),
    F: lambda: sa.Boolean(),
    J: lambda: sa.LargeBinary(),
    T: lambda: sa.Text(),
}


def pack(value: Any) -> bytes | None:
    """A document column's bytes (``None`` stays SQL NULL)."""
    return None if value is None else msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes | None) -> Any:
    return None if data is None else msgpack.unpackb(data, raw=False)


def decode_row(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row read with SQLAlchemy, its document columns unpacked (for queries)."""
    for name in DOCS[kind]:
        row[name] = unpack(row[name])
    return row


# row kind: (primary key columns, other columns as (name, type))
SPEC: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "member": (
        ("coop_id", "member_id"),
        (
            ("registered", F), ("approved", F), ("resigned", F), ("status", S),
            ("reg_okey", J), ("profile", J), ("edits", J), ("merged_into", J),
            ("merged_aliases", J), ("placed", J), ("conflicts", J), ("asof", J),
        ),
    ),
    "nik_group": (
        ("nik",),
        (
            ("coop_id", S), ("members", J), ("canonical", T), ("aliases", J),
            ("collisions", J), ("conflicts", J),
        ),
    ),
    "savings": (
        ("coop_id", "account_id"),
        (
            ("member_id", S), ("product", S), ("opened_on", S), ("open_okey", J),
            ("deposits", B), ("withdrawals", B), ("reversed_deposits", B),
            ("reversed_withdrawals", B), ("balance", B), ("movements", B), ("by_year", J),
            ("asof", J),
        ),
    ),
    "loan": (
        ("coop_id", "loan_id"),
        (
            ("member_id", S), ("requested", B), ("purpose", T), ("applied_okey", J),
            ("terms", J), ("terms_okey", J), ("log", J), ("status", S), ("principal", B),
            ("method", S), ("disbursed", B), ("principal_repaid", B), ("interest_repaid", B),
            ("overpaid", B), ("repaid", B), ("outstanding_principal", B),
            ("interest_charged", B), ("interest_outstanding", B), ("written_off", B),
            ("written_off_recorded", B), ("written_off_on", S), ("recovered", B),
            ("recoveries", B), ("installment", B), ("first_due", S), ("tenor_months", B),
            ("alloc", J), ("by_year", J), ("plain", F), ("conflicts", J), ("dues", J),
            ("unpaid_since", S), ("last_day", S),
        ),
    ),
    "sale": (
        ("coop_id", "sale_id"),
        (
            ("recorded", F), ("sale_okey", J), ("void_okey", J), ("day", S), ("location", S),
            ("lines", J), ("card_uid", S), ("khbs", B), ("total", B), ("member_id", S),
            ("credit", B),
        ),
    ),
    "sales_day": (
        ("coop_id", "day", "sku"),
        (
            ("qty", B), ("amount", B), ("lines", B), ("voided_qty", B), ("voided_amount", B),
            ("voided_lines", B),
        ),
    ),
    "stock": (
        ("coop_id", "location", "sku"),
        (
            ("total", B), ("count_okey", J), ("count_qty", B), ("before", B), ("on_hand", B),
            ("received", B), ("sold", B), ("returned", B), ("adjusted", B),
            ("shipped_out", B), ("shipped_in", B), ("counts", B), ("cost_qty", B),
            ("cost_value", B), ("conflicts", J), ("asof", J),
        ),
    ),
    "price": (
        ("coop_id", "sku"),
        (("unit_price", B), ("effective_from", S), ("okey", J)),
    ),
    "quota": (
        ("coop_id", "program", "sku", "period"),
        (("qty", B), ("allocations", B)),
    ),
    "quota_use": (
        ("coop_id", "sku", "period"),
        (("allocated", B), ("received", B), ("sold", B), ("conflicts", J)),
    ),
    "receivable": (
        ("coop_id", "member_id"),
        (
            ("sold", B), ("sales", B), ("repaid", B), ("repayments", B), ("outstanding", B),
            ("overpaid", B), ("by_year", J), ("asof", J), ("conflicts", J),
        ),
    ),
    "credit_repayment": (
        ("coop_id", "event_id"),
        (("member_id", S), ("day", S), ("amount", B), ("seen", F), ("reversals", J)),
    ),
    "beneficiary": (
        ("beneficiary_id",),
        (("coop_id", S), ("home_coop", S), ("kk_no", S), ("head_name", T), ("okey", J)),
    ),
    "card": (
        ("card_uid",),
        (
            ("coop_id", S), ("owner_src", J), ("beneficiary_id", S), ("issue_okey", J),
            ("blocked", F), ("block_reason", T), ("block_okey", J), ("credits", J),
            ("debits", J), ("credited", B), ("spent", B), ("overspend", B),
            ("available", B), ("devices_over", J), ("kinds_over", J), ("walked", J),
            ("conflicts", J),
        ),
    ),
    "allowance": (
        ("allowance_id",),
        (
            ("coop_id", S), ("owner_src", J), ("scope", S), ("device_id", S), ("program", S),
            ("cycle", S), ("max_count", B), ("max_value", B), ("alloc_okey", J),
            ("debits", J), ("used_count", B), ("used_value", B), ("over_count", B),
            ("over_value", B), ("available_count", B), ("available_value", B),
            ("devices_over", J), ("walked", J), ("conflicts", J),
        ),
    ),
    "entitlement": (
        ("entitlement_id",),
        (
            ("coop_id", S), ("owner_src", J), ("beneficiary_id", S), ("card_uid", S),
            ("program", S), ("cycle", S), ("value", B), ("items", J), ("grant_okey", J),
            ("redemptions", J), ("voided", J), ("winner", S), ("status", S), ("worth", B),
            ("redeemed_value", B), ("remaining", B), ("duplicates", J),
            ("value_at_risk", B), ("card_draw", J), ("claims", J), ("conflicts", J), ("asof", J),
        ),
    ),
    "claim": (
        ("claim_id",),
        (
            ("coop_id", S), ("entitlement_id", S), ("home_coop", S), ("device_id", S),
            ("value", B), ("status", S), ("okey", J),
        ),
    ),
    "fund": (
        ("coop_id", "fund_id"),
        (
            ("allocated", B), ("disbursed", B), ("utilised", B), ("repaid", B), ("balance", B),
            ("by_purpose", J), ("tranches", B), ("program_year", B), ("source", T),
            ("alloc_okey", J), ("asof", J),
        ),
    ),
    "shipment": (
        ("shipment_id",),
        (
            ("coop_id", S), ("owner_src", J), ("origin", S), ("destination", S),
            ("dispatched_on", S), ("dispatch_okey", J), ("dispatched", J), ("received", J),
            ("received_on", S), ("receipts", B), ("receivers", J), ("discrepancies", J),
            ("short", J), ("status", S),
        ),
    ),
    "device": (
        ("device_id",),
        (
            ("coop_id", S), ("events", B), ("max_seq", B), ("last_wall", B), ("last_seen", B),
            ("lag_ms", B), ("skew_count", B), ("skew_seqs", J), ("gap_count", B),
            ("gap_seqs", J), ("registered", F), ("retired", F), ("conflicts", J),
        ),
    ),
    "coop": (("coop_id",), (("events", B), ("as_of", S))),
    "conflict": (
        ("conflict_id",),
        (("kind", S), ("coop_id", S), ("subject", T), ("active", F), ("detail", J)),
    ),
    "resolution": (
        ("conflict_id",),
        (
            ("coop_id", S), ("decision", S), ("note", T), ("resolved_by", T), ("okey", J),
            ("event_id", S),
        ),
    ),
}  # fmt: skip

DOCS: dict[str, tuple[str, ...]] = {
    kind: tuple(name for name, t in cols if t == J) for kind, (_, cols) in SPEC.items()
}

# Rows that a cooperative's view filters on ``coop_id`` without it being in the key.
COOP_INDEXED = ("nik_group", "beneficiary", "card", "allowance", "entitlement", "claim", "shipment",
                "device", "conflict", "resolution")  # fmt: skip


PREFIX = "rm_"


def _table(kind: str, meta: sa.MetaData = metadata, prefix: str = PREFIX) -> sa.Table:
    pk, cols = SPEC[kind]
    columns = [sa.Column(name, sa.String(64), primary_key=True) for name in pk]
    columns += [sa.Column(name, _TYPES[t](), nullable=True) for name, t in cols]
    extra: list[sa.Index] = []
    if kind in COOP_INDEXED:
        extra.append(sa.Index(f"ix_{prefix}{kind}_coop", "coop_id"))
    return sa.Table(f"{prefix}{kind}", meta, *columns, *extra, sqlite_with_rowid=False)


def _stock_moves(meta: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}stock_moves",
        meta,
        sa.Column("coop_id", sa.String(64), primary_key=True),
        sa.Column("location", sa.String(64), primary_key=True),
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("okey", sa.LargeBinary(128), primary_key=True),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def _ledger(meta: sa.MetaData, name: str, dated: bool) -> sa.Table:
    """``coop_day`` (``dated``: keyed by day first, so the days after a recent date are a
    short range) or ``coop_total``: an amount per cooperative, area and figure."""
    key = [sa.Column("day", sa.String(10), primary_key=True)] if dated else []
    return sa.Table(
        name,
        meta,
        *key,
        sa.Column("coop_id", sa.String(64), primary_key=True),
        sa.Column("area", sa.String(16), primary_key=True),
        sa.Column("figure", sa.String(160), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def _position(meta: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}projector_position",
        meta,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        # Moved by a replay's swap (central_projector.projection.replay): a projector's cached rows
        # are current only while both position and generation are the ones it left.
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )


def _held(meta: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}projector_held",
        meta,
        sa.Column("event_pk", sa.BigInteger, primary_key=True, autoincrement=False),
    )


TABLES: dict[str, sa.Table] = {kind: _table(kind) for kind in SPEC}

# The stock ledger: every movement, so a count arriving late can be placed (shop_stock).
# One row per (item, order key): movements of one event on one item are summed.
stock_moves = _stock_moves(metadata, PREFIX)

# The dated roll-up figures (central_projector.projection.folds.daily): each cooperative's
# deltas per local day and area, and their running sums (a figure as of DATE is the sum
# less the deltas of the days after DATE).
coop_day = _ledger(metadata, f"{PREFIX}coop_day", True)
coop_total = _ledger(metadata, f"{PREFIX}coop_total", False)

# Where the projector is: committed events with id ≤ position are folded, except the
# ids in ``rm_projector_held`` (held behind a gap when passed; folded once released).
projector_position = _position(metadata, PREFIX)
projector_held = _held(metadata, PREFIX)


class TableSet(NamedTuple):
    """Every read-model table under one name prefix (``rm_`` live, others for shadows)."""

    prefix: str
    metadata: sa.MetaData
    tables: dict[str, sa.Table]
    stock_moves: sa.Table
    position: sa.Table
    held: sa.Table
    coop_day: sa.Table
    coop_total: sa.Table


LIVE = TableSet(
    PREFIX, metadata, TABLES, stock_moves, projector_position, projector_held, coop_day, coop_total
)
_SETS: dict[str, TableSet] = {PREFIX: LIVE}


def table_set(prefix: str) -> TableSet:
    """The read-model tables named ``{prefix}{kind}`` (same columns as the live ``rm_``)."""
    if prefix not in _SETS:
        meta = sa.MetaData()
        _SETS[prefix] = TableSet(
            prefix,
            meta,
            {kind: _table(kind, meta, prefix) for kind in SPEC},
            _stock_moves(meta, prefix),
            _position(meta, prefix),
            _held(meta, prefix),
            _ledger(meta, f"{prefix}coop_day", True),
            _ledger(meta, f"{prefix}coop_total", False),
        )
    return _SETS[prefix]
