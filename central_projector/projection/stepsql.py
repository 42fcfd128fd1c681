"""The DB-API statements of a projector's step on one table set: reading the next committed
events, the held ones and the position, and the bookkeeping written after a batch's rows.

They run on raw cursors (a step's own transaction, the pipelined run's reader, or the SQLite
writer process), so they are plain SQL text in the dialect's parameter style (``mark``).
"""

from __future__ import annotations

import time
from typing import Any

from central_projector.projection.readmodels.tables import TableSet
from central_projector.projection.steps import (
    COLUMNS,
    ID,
    NAME,
    STATUS,
    Check,
    Job,
    Read,
    to_event,
)

# On PostgreSQL, an events table without statistics yet (just loaded or restored, before
# autovacuum's ANALYZE) has the planner read every event after the position and sort them,
# each step (83 ms of a 5000-event step at 100k events, against 2.4): the reads want the
# index scan in id order.
NO_SORT = "SET enable_sort = off"
NO_SORT_LOCAL = "SET LOCAL enable_sort = off"


class StepSql:
    """The statements of a step on the tables ``t``, with ``mark`` as the parameter mark."""

    def __init__(self, t: TableSet, mark: str) -> None:
        self.mark = mark
        self.held, self.position = t.held.name, t.position.name
        cols = ", ".join(f"e.{c}" for c in COLUMNS)
        self.after = (
            f"SELECT {cols} FROM events e WHERE e.id > {mark} AND e.id <= {mark} "
            f"ORDER BY e.id LIMIT {mark}"
        )
        self.released = (
            f"SELECT {cols} FROM events e JOIN {self.held} h ON h.event_pk = e.id "
            "WHERE e.status = 'committed'"
        )
        of_row = f'FROM "{self.position}" WHERE "name" = {mark}'
        self.peek = f'SELECT "position", "events", "generation" {of_row}'
        self.check = f'SELECT "position", "generation" {of_row}'  # the writer process's

    def read(
        self,
        cursor: Any,
        pos: int,
        upto: int | None,
        limit: int,
        *,
        released: bool,
        sorts_off: bool,
    ) -> Read:
        """The next committed rows after ``pos`` and (if ``released``) the held ones the
        store has released since, decoded. (``sorts_off``: turn sorts off for this
        transaction, on PostgreSQL; see :data:`NO_SORT`.)"""
        if sorts_off:
            cursor.execute(NO_SORT_LOCAL)
        cursor.execute(self.after, (pos, upto if upto is not None else 2**62, limit))
        out = Read(cursor.fetchall())
        if released:
            cursor.execute(self.released)
            out.released = cursor.fetchall()
        if sorts_off:
            cursor.execute("SET LOCAL enable_sort TO DEFAULT")
        for r in out.rows:
            if r[STATUS] != "committed":
                out.held.append(r[ID])
                continue
            ev = to_event(r)
            if ev is None:
                out.skipped += 1
            else:
                out.batch.append(ev)
        for r in out.released:
            ev = to_event(r)
            if ev is not None:
                out.batch.append(ev)
        return out

    def peek_position(self, cursor: Any) -> tuple[int, int, int, bool]:
        """(position, events, generation, whether the row exists), without a lock."""
        cursor.execute(self.peek, (NAME,))
        row = cursor.fetchone()
        if row is None:
            return 0, 0, 0, False
        return int(row[0]), int(row[1]), int(row[2]), True

    def count_held(self, cursor: Any) -> int:
        cursor.execute(f'SELECT COUNT(*) FROM "{self.held}"')
        return int(cursor.fetchone()[0])

    def bookkeeping(self, job: Job) -> list[tuple[str, list[Any]]]:
        """The statements of a step after its rows: held events, then the position."""
        held, position, mark = self.held, self.position, self.mark
        out: list[tuple[str, list[Any]]] = []
        if job.held:
            out.append((f'INSERT INTO "{held}" ("event_pk") VALUES ({mark})',
                        [(i,) for i in job.held]))  # fmt: skip
        if job.released:
            out.append((f'DELETE FROM "{held}" WHERE "event_pk" = {mark}',
                        [(i,) for i in job.released]))  # fmt: skip
        if not job.exists:
            sql = (f'INSERT INTO "{position}" ("position", "events", "updated_at", "name") '
                   f"VALUES ({mark}, {mark}, {mark}, {mark})")  # fmt: skip
        elif job.events or job.new_pos != job.pos:
            sql = (f'UPDATE "{position}" SET "position" = {mark}, "events" = "events" + {mark}, '
                   f'"updated_at" = {mark} WHERE "name" = {mark}')  # fmt: skip
        else:
            return out
        out.append((sql, [(job.new_pos, job.events, _now(), NAME)]))
        return out

    def statements(self, job: Job) -> tuple[Check, list[tuple[str, list[Any]]]]:
        """A step as the writer process takes it: first the check that the position row
        is the one the batch expects, then every statement of the step."""
        expected = (job.pos, job.generation) if job.exists else None
        check = self.check, (NAME,), expected
        return check, [*job.writes.sql, *self.bookkeeping(job)]


def _now() -> int:
    return time.time_ns() // 1_000_000
