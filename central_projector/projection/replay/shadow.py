"""The shadow tables of a replay (``rmx_*``): created, scoped, compared, copied in, dropped.

The shadow is every read-model table under the prefix ``rmx_`` in the live database,
with its own position and held list, plus ``rmx_replay`` (what this replay rebuilds and
with which options, written in the transaction that creates the tables, so a shadow
without it is half-made and is made again) and ``rmx_scope_coop`` / ``rmx_scope_device``
(the cooperatives and devices of a ``--since`` replay). The rows of a scope are chosen
by SQL predicates over these, the same on the live and the shadow side.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from central_projector.projection.folds.base import AREA_OF
from central_projector.projection.folds.sync_health import RECEIPT_FIELDS
from central_projector.projection.readmodels.tables import DOCS, LIVE, TableSet, table_set, unpack
from central_projector.projection.replay.scope import DEVICE_KINDS, Scope

PREFIX = "rmx_"
SHADOW: TableSet = table_set(PREFIX)
replay_meta = sa.Table(
    f"{PREFIX}replay",
    SHADOW.metadata,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
scope_coop = sa.Table(
    f"{PREFIX}scope_coop", SHADOW.metadata, sa.Column("coop_id", sa.String(64), primary_key=True)
)
scope_device = sa.Table(
    f"{PREFIX}scope_device",
    SHADOW.metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
)


@dataclass(frozen=True)
class Started:
    """A shadow in the database: what it rebuilds, for which options, since when (ms)."""

    scope: Scope
    options: dict[str, Any]
    created_at: int


def find(conn: sa.Connection) -> Started | None:
    if not sa.inspect(conn).has_table(replay_meta.name):
        return None
    row = conn.execute(sa.select(replay_meta)).first()
    if row is None:
        return None
    return Started(Scope.from_dict(json.loads(row.scope)), json.loads(row.options), row.created_at)


def create(engine: sa.Engine, scope: Scope, options: dict[str, Any], now_ms: int) -> None:
    """Empty shadow tables for ``scope``, made in one transaction (after dropping any)."""
    drop(engine)
    with engine.begin() as conn:
        SHADOW.metadata.create_all(conn)
        if scope.coops is not None:
            conn.execute(sa.insert(scope_coop), [{"coop_id": c} for c in sorted(scope.coops)])
        if scope.devices:
            conn.execute(sa.insert(scope_device), [{"device_id": d} for d in sorted(scope.devices)])
        conn.execute(
            sa.insert(replay_meta).values(
                name="replay",
                scope=json.dumps(scope.as_dict()),
                options=json.dumps(options, sort_keys=True),
                created_at=now_ms,
            )
        )


def drop(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        SHADOW.metadata.drop_all(conn, checkfirst=True)


# --- the rows of a scope -------------------------------------------------------------------
LEDGERS = ("coop_day", "coop_total")  # the dated figures, rows of several areas each


def kinds_of(scope: Scope) -> list[str]:
    out = list(scope.tables())
    if scope.kinds():
        out.append("conflict")
    if scope.areas & set(AREA_OF.values()):
        out += LEDGERS
    return out


def _table(ts: TableSet, kind: str) -> sa.Table:
    if kind in LEDGERS:
        return ts.coop_day if kind == "coop_day" else ts.coop_total
    return ts.stock_moves if kind == "stock_moves" else ts.tables[kind]


def where(table: sa.Table, kind: str, scope: Scope) -> sa.ColumnElement[bool]:
    """The rows of ``table`` (live or shadow) that ``scope`` rebuilds."""
    c = table.c
    in_coops = c.coop_id.in_(sa.select(scope_coop.c.coop_id))
    if kind in LEDGERS:
        areas = c.area.in_(sorted(scope.areas))
        return areas if scope.coops is None else sa.and_(areas, in_coops)
    if kind == "conflict":
        kinds = scope.kinds()
        if scope.coops is None:
            return c.kind.in_(kinds)
        coop_kinds = [k for k in kinds if k not in DEVICE_KINDS]
        parts = [sa.and_(c.kind.in_(coop_kinds), in_coops)] if coop_kinds else []
        if "sync_health" in scope.areas:
            subjects = sa.select(sa.literal("device:") + scope_device.c.device_id)
            parts.append(sa.and_(c.kind.in_(DEVICE_KINDS), c.subject.in_(subjects)))
        return sa.or_(*parts) if parts else sa.false()
    if scope.coops is None:
        return sa.true()
    if kind == "device":
        return c.device_id.in_(sa.select(scope_device.c.device_id))
    return in_coops


def copy_in(conn: sa.Connection, scope: Scope) -> int:
    """Replace the live rows of ``scope`` by the shadow's; returns the rows copied in."""
    copied = 0
    for kind in kinds_of(scope):
        live, shadow = _table(LIVE, kind), _table(SHADOW, kind)
        conn.execute(sa.delete(live).where(where(live, kind, scope)))
        names = [col.name for col in live.columns]
        chosen = where(shadow, kind, scope)
        rows = sa.select(*(shadow.c[n] for n in names)).where(chosen)
        conn.execute(sa.insert(live).from_select(names, rows))
        # counted apart: drivers differ in what rowcount says of INSERT … SELECT
        copied += conn.execute(
            sa.select(sa.func.count()).select_from(shadow).where(chosen)
        ).scalar_one()
    if scope.whole:
        conn.execute(sa.delete(LIVE.held))
        conn.execute(sa.insert(LIVE.held).from_select(["event_pk"], sa.select(SHADOW.held)))
    return copied


# --- differences -----------------------------------------------------------------------------
@dataclass
class TableDiff:
    """How one table's rows in scope differ: live vs rebuilt, by primary key."""

    table: str
    key_columns: tuple[str, ...]
    compared: int = 0
    only_live: list[tuple[Any, ...]] = field(default_factory=list)
    only_rebuilt: list[tuple[Any, ...]] = field(default_factory=list)
    changed: list[tuple[tuple[Any, ...], dict[str, tuple[Any, Any]]]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.only_live) + len(self.only_rebuilt) + len(self.changed)


def _rows(
    conn: sa.Connection, table: sa.Table, kind: str, scope: Scope
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    pk = [col.name for col in table.primary_key.columns]
    docs = DOCS.get(kind, ())
    skip = RECEIPT_FIELDS if kind == "device" else ()
    query = sa.select(table).where(where(table, kind, scope))
    if kind in LEDGERS:  # a key whose deltas came to nothing is the same as none
        query = query.where(table.c.amount != 0)
    for m in conn.execute(query).mappings():
        row = {k: (unpack(v) if k in docs else v) for k, v in m.items() if k not in skip}
        yield tuple(_plain(row[c]) for c in pk), row


def _plain(v: Any) -> Any:
    return v.hex() if isinstance(v, bytes) else v


def compare(conn: sa.Connection, scope: Scope) -> list[TableDiff]:
    """Every table of ``scope``: live rows against the shadow's (receipt times aside)."""
    out = []
    for kind in kinds_of(scope):
        live_t, shadow_t = _table(LIVE, kind), _table(SHADOW, kind)
        diff = TableDiff(live_t.name, tuple(c.name for c in live_t.primary_key.columns))
        live = dict(_rows(conn, live_t, kind, scope))
        rebuilt = dict(_rows(conn, shadow_t, kind, scope))
        diff.compared = len(live.keys() | rebuilt.keys())
        for key in sorted(live.keys() | rebuilt.keys(), key=repr):
            a, b = live.get(key), rebuilt.get(key)
            if b is None:
                diff.only_live.append(key)
            elif a is None:
                diff.only_rebuilt.append(key)
            elif a != b:
                cols = {
                    c: (a.get(c), b.get(c)) for c in a.keys() | b.keys() if a.get(c) != b.get(c)
                }
                diff.changed.append((key, dict(sorted(cols.items()))))
        out.append(diff)
    return out
