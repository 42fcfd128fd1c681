"""For migrations that change what a fold computes: the read models start over.

Read models are derived from the central store's events. When a migration changes what
a fold computes (new rules, new columns, a new key), the rows already projected are
stale, so the migration empties every read-model table and moves every projector
position back to 0, bumping its generation so a running projector drops its cached rows;
the next ``kopsync central project`` (or the projection workers) rebuilds them from the
events. A replay in progress (its ``rmx_`` tables) is discarded: run it again.

Frozen once used by a migration: later migrations that need something else add their
own helper.
"""

from __future__ import annotations

import sqlalchemy as sa

KEPT = frozenset({"rm_alembic_version", "rm_projector_position"})


def restart_read_models(conn: sa.Connection) -> None:
    """Empty the read models (schema kept) and rewind every projector position that moved
    (a new store, with nothing projected, keeps generation 0)."""
    names = sa.inspect(conn).get_table_names()
    for name in names:
        if name.startswith("rmx_"):
            conn.execute(sa.text(f'DROP TABLE "{name}"'))
    for name in names:
        if name.startswith("rm_") and name not in KEPT:
            conn.execute(sa.text(f'DELETE FROM "{name}"'))
    conn.execute(
        sa.text(
            "UPDATE rm_projector_position SET position = 0, events = 0, "
            "generation = generation + 1 WHERE position > 0"
        )
    )
