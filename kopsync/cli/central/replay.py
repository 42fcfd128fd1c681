"""``kopsync central replay``: rebuild the read models from the central store, swap them in.

Registered on the ``central`` group. See :mod:`central_projector.projection.replay` for how
it works.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from central_projector.projection.projector import DEFAULT_BATCH
from central_projector.projection.replay import AREAS, Finished, Replay, projections, since_ms
from central_projector.projection.replay.runner import check_resumable
from central_projector.projection.replay.scope import ALL, TIED, WHY_TIED
from central_projector.projection.replay.shadow import TableDiff
from kopsync.cli.central.project import db_option
from kopsync.cli.common import emit_json, friendly, json_option
from sync_core.errors import StoreError

SHOWN = 20  # differences listed per table; the count is exact


@click.command()
@db_option
@click.option(
    "--since",
    default=None,
    metavar="TIME",
    help="Rebuild only the cooperatives that received events since TIME (ISO date or "
    "time, or 2h, 3d, 1w back), each from its full history, with every cooperative "
    "sharing rows with them.",
)
@click.option(
    "--projection",
    "names",
    multiple=True,
    metavar="NAME",
    help="Rebuild only this area's read models (repeatable; see --list-projections).",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Rebuild at the live position and report differences instead of swapping.",
)
@click.option(
    "--list-projections",
    "list_only",
    is_flag=True,
    help="List the projections and the tables each owns, then exit.",
)
@click.option("--restart", is_flag=True, help="Discard a replay in progress and start over.")
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Events per transaction of the rebuild.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(0, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between progress lines when not on a terminal.",
)
@json_option
@friendly
def replay(
    db_url: str,
    since: str | None,
    names: tuple[str, ...],
    verify: bool,
    list_only: bool,
    restart: bool,
    batch_size: int,
    progress_every: float,
    as_json: bool,
) -> None:
    """Rebuild read models into shadow tables while projection goes on, then swap them in.

    A killed replay resumes when run again with the same options. With --verify nothing
    is swapped: the exit status is 0 when the rebuild equals the live read models, 1 with
    a report of every difference when it does not.
    """
    if list_only:
        _list(as_json)
        return
    areas = projections(names)
    since_at = since_ms(since) if since is not None else None
    options: dict[str, Any] = {"projections": sorted(set(names)), "since": since}
    try:
        opened = Replay(db_url, batch_size=batch_size, create=False)
    except StoreError as exc:  # a driver's message may run over several lines
        raise StoreError(" ".join(str(exc).split())) from exc
    with opened as run:
        if run.started is not None and restart:
            run.discard()
        resumed = run.started is not None
        if run.started is not None:
            check_resumable(run.started, options)
        else:
            scope = run.plan(areas, since_at)
            if scope is None:
                line = f"no cooperative received events since {since}; nothing to replay"
                _say(as_json, {"events_read": 0, "swapped": False, "note": line}, line)
                return
            run.begin(scope, options)
        assert run.started is not None
        scope = run.started.scope
        progress = _reporter(progress_every)
        try:
            read = run.build(progress, ahead=scope.whole and not verify)
        finally:
            progress.close()
        done = run.finish(verify=verify)
    summary = {
        "resumed": resumed,
        "events_read": read,
        "position": done.position,
        "generation": done.generation,
        "scope": scope.as_dict(),
        "swapped": done.swapped,
        "rows_copied": done.rows,
        "finish_seconds": round(done.seconds, 3),
    }
    if done.differences is None:
        where = "every projection" if scope.areas == ALL else ", ".join(sorted(scope.areas))
        if scope.coops is not None:
            where += f" of {len(scope.coops)} cooperative(s)"
        _say(as_json, summary,
             f"replayed {where}{' (resumed)' if resumed else ''}: {read} events read, swapped in "
             f"at position {done.position} (generation {done.generation}), {done.rows} rows "
             f"in {done.seconds:.2f} s")  # fmt: skip
        return
    _verdict(done, summary, as_json)


def _reporter(every: float) -> Any:
    from kopsync.cli.central.progress import reporter

    return reporter(sys.stderr, every)


def _say(as_json: bool, data: dict[str, Any], line: str) -> None:
    if as_json:
        emit_json(data)
    else:
        click.echo(line)


def _list(as_json: bool) -> None:
    rows = [
        {
            "name": a.name,
            "tables": [f"rm_{t}" for t in a.tables],
            "conflict_kinds": list(a.kinds),
            "replayed_with": list(TIED.get(a.name, ())),
        }
        for a in AREAS.values()
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        kinds = f"  conflicts {', '.join(r['conflict_kinds'])}" if r["conflict_kinds"] else ""
        with_ = f"  (only with {', '.join(r['replayed_with'])})" if r["replayed_with"] else ""
        click.echo(f"{r['name']:<12} {', '.join(r['tables'])}{kinds}{with_}")
    click.echo(f"shop, aid and logistics are replayed together: {WHY_TIED}")


def _diff_json(d: TableDiff) -> dict[str, Any]:
    return {
        "table": d.table,
        "key": list(d.key_columns),
        "compared": d.compared,
        "only_live": [list(k) for k in d.only_live],
        "only_rebuilt": [list(k) for k in d.only_rebuilt],
        "changed": [
            {
                "key": list(k),
                "columns": {c: {"live": a, "rebuilt": b} for c, (a, b) in cols.items()},
            }
            for k, cols in d.changed
        ],
    }


def _verdict(done: Finished, summary: dict[str, Any], as_json: bool) -> None:
    diffs = done.differences or []
    differing = [d for d in diffs if d.count]
    total = sum(d.count for d in differing)
    compared = sum(d.compared for d in diffs)
    if done.note:
        summary["note"] = done.note
        click.echo(f"note: {done.note}", err=True)
    if as_json:
        summary.update(identical=not differing, differences=total, rows_compared=compared,
                       tables=[_diff_json(d) for d in differing])  # fmt: skip
        click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True, default=str))
    elif not differing:
        click.echo(
            f"no difference: the read models rebuilt at position {done.position} equal the "
            f"live ones ({compared} rows in {len(diffs)} tables)"
        )
    else:
        click.echo(
            f"{total} difference(s) at position {done.position} in {len(differing)} of "
            f"{len(diffs)} tables (live vs rebuilt):"
        )
        for d in differing:
            cols = ", ".join(d.key_columns)
            shown = 0
            for key in d.only_live[:SHOWN]:
                click.echo(f"  {d.table} ({cols}) = {_key(key)}: only in live")
            for key in d.only_rebuilt[:SHOWN]:
                click.echo(f"  {d.table} ({cols}) = {_key(key)}: missing from live")
            for key, changed in d.changed[:SHOWN]:
                click.echo(f"  {d.table} ({cols}) = {_key(key)}:")
                for c, (a, b) in changed.items():
                    click.echo(f"      {c}: live {a!r}, rebuilt {b!r}")
            shown = min(len(d.only_live), SHOWN) + min(len(d.only_rebuilt), SHOWN)
            shown += min(len(d.changed), SHOWN)
            if d.count > shown:
                click.echo(f"  … and {d.count - shown} more in {d.table} (--json lists all)")
    if differing:
        sys.exit(1)


def _key(key: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(k) for k in key) + ")"
