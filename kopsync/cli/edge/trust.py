"""``kopsync edge verify`` and ``kopsync edge repair``: is the store what the device wrote?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from edge_agent.app.agent import EdgeAgent, jsonable
from edge_agent.app.integrity import IntegrityReport, examine
from edge_agent.app.repair import RepairReport
from edge_agent.app.repair import repair as repair_store
from kopsync.cli.common import data_option, emit_json, friendly, json_option

SHOWN = 20  # differing views listed in text; --json lists them all


@click.command()
@data_option
@json_option
@friendly
def verify(data_dir: Path, as_json: bool) -> None:
    """Check the store: the chain and signatures of the device's own events, every central
    event against the pinned central key, the seal, and that the rule views equal a fold of
    the signed logs. Names what is wrong; exit 1 if anything is."""
    with EdgeAgent(data_dir) as agent:
        r = examine(agent)
    if as_json:
        emit_json(_verify_json(r))
    else:
        _verify_text(r, data_dir)
    if not r.ok:
        raise SystemExit(1)


def _verify_json(r: IntegrityReport) -> dict[str, Any]:
    c = r.chain
    return {
        "ok": r.ok,
        "checked": c.checked,
        "last_good_seq": c.last_seq,
        "first_bad_seq": c.first_bad_seq,
        "reason": c.reason,
        "bad": [{"seq": seq, "reason": why} for seq, why in c.bad],
        "logs_checked": r.rows_checked,
        "bad_rows": [b.to_json() for b in r.bad_rows],
        "seal": [{"part": part, "problem": p} for part, p in r.seal],
        "views_checked": r.views_checked,
        "views_differ": [
            {"key": d.key, "stored": jsonable(d.stored), "folded": jsonable(d.folded)}
            for d in r.differ
        ],
    }


def _verify_text(r: IntegrityReport, data_dir: Path) -> None:
    c = r.chain
    if c.ok:
        click.echo(f"ok: {c.checked} events, chain and signatures intact")
    for seq, why in c.bad:
        click.echo(f"BROKEN at seq {seq}: {why}", err=True)
    central = r.rows_checked.get("downlink_events", 0)
    bad_central = [b for b in r.bad_rows if b.table == "downlink_events"]
    if not bad_central:
        click.echo(f"ok: {central} central events verify against the pinned central key")
    for b in r.bad_rows:
        click.echo(f"BAD {b.table} {b.stream} seq {b.seq}: {b.reason}", err=True)
    if not r.seal:
        click.echo("ok: the seal matches the views and every signed log")
    for _, problem in r.seal:
        click.echo(f"SEAL: {problem}", err=True)
    if not r.differ:
        click.echo(f"ok: {r.views_checked} rule views equal the fold of the signed logs")
    for d in r.differ[:SHOWN]:
        click.echo(
            f"VIEW {d.key}: stored {_show(d.stored)}, signed logs give {_show(d.folded)}", err=True
        )
    if len(r.differ) > SHOWN:
        click.echo(
            f"… and {len(r.differ) - SHOWN} more views differ (--json lists them all)", err=True
        )
    if not r.ok and c.ok:
        click.echo(f"repair with: kopsync edge repair --data {data_dir}", err=True)


@click.command()
@data_option
@json_option
@friendly
def repair(data_dir: Path, as_json: bool) -> None:
    """Rebuild the rule views from the signed logs (after verifying them), drop stored
    central events that do not verify, seal the store afresh, and say what changed."""
    with EdgeAgent(data_dir) as agent:
        r = repair_store(agent)
    if as_json:
        emit_json(jsonable(r.to_json()))
        return
    _repair_text(r)


def _repair_text(r: RepairReport) -> None:
    for problem in r.seal_problems:
        click.echo(f"found: {problem}")
    for d in r.changed[:SHOWN]:
        click.echo(f"rebuilt {d.key}: was {_show(d.stored)}, now {_show(d.folded)}")
    if len(r.changed) > SHOWN:
        click.echo(f"… and {len(r.changed) - SHOWN} more views rebuilt (--json lists them all)")
    for b in r.dropped:
        click.echo(f"dropped {b.table} {b.stream} seq {b.seq}: {b.reason}")
    if "downlink_events" in r.reread:
        click.echo("the central's events will be read again from the start at the next sync")
    if r.changed_anything:
        click.echo(
            f"repaired: {len(r.changed)} views rebuilt, {len(r.dropped)} rows dropped; "
            "the store is sealed afresh and records again"
        )
    else:
        click.echo("nothing to repair: the views equal the fold of the signed logs")


def _show(view: dict[str, Any] | None) -> str:
    return "(absent)" if view is None else json.dumps(jsonable(view), ensure_ascii=False)
