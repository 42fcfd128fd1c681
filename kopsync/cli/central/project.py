"""``kopsync central project|show|conflicts|resolve``: the read models and the conflict queue.

Registered on the ``central`` group by :func:`register`. The database is the central
store's (``--db`` or ``$KOPSYNC_DB_URL``): the read models live beside the event record,
so a projection step commits its rows and its position in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

import click
import structlog

from central_projector.projection.projector import (
    CACHE_ROWS,
    DEFAULT_BATCH,
    NAME,
    SQLITE_CACHE_KIB,
    SQLITE_MMAP_BYTES,
    Projector,
)
from central_projector.projection.resolve import resolve_conflict
from central_projector.projection.steps import RunResult
from central_projector.record.store import DEFAULT_URL, CentralStore
from central_projector.reporting.reader import CentralReader
from kopsync.cli.central.settings import ProjectSettings
from kopsync.cli.common import (
    configure_logging,
    creds_option,
    emit_json,
    friendly,
    inbox_option,
    json_option,
    log_format_option,
    metrics_option,
    nkey_option,
    tls_options,
)
from kopsync.cli.config import config_option, settings_from
from kopsync.cli.human import count, counts, decimal, percent_bp, plural, rupiah
from sync_core import subjects
from sync_core.ids import check_coop_id
from sync_core.localtime import check_date
from sync_core.transport import ConnectOptions, connected

log = structlog.get_logger("kopsync.projector")

db_option = click.option(
    "--db",
    "db_url",
    envvar="KOPSYNC_DB_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="SQLAlchemy URL of the central store and its read models ($KOPSYNC_DB_URL).",
)


@click.command()
@config_option("central-project")
@db_option
@click.option(
    "--nats",
    "nats_url",
    envvar="KOPSYNC_NATS_URL",
    default=None,
    help="Wake up on canonical events from this NATS server instead of waiting a poll.",
)
@creds_option
@nkey_option("The central's", "kopsync admin central-user")
@inbox_option
@tls_options
@click.option("--once", is_flag=True, help="Project everything not yet projected, then exit.")
@click.option("--batch", "batch_size", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH,
              show_default=True, help="Events per transaction.")  # fmt: skip
@click.option("--poll", type=click.FloatRange(0.05, 3600), default=1.0, show_default=True,
              help="Seconds between looks at the store when following.")  # fmt: skip
@click.option(
    "--cache-rows",
    envvar="KOPSYNC_PROJECT_CACHE_ROWS",
    type=click.IntRange(min=0),
    default=CACHE_ROWS,
    show_default=True,
    help="Read-model rows kept in memory between steps, about 1 KiB each; 0 keeps none "
    "($KOPSYNC_PROJECT_CACHE_ROWS).",
)
@click.option(
    "--sqlite-cache-mib",
    envvar="KOPSYNC_PROJECT_SQLITE_CACHE_MIB",
    type=click.IntRange(min=0),
    default=SQLITE_CACHE_KIB // 1024,
    show_default=True,
    help="SQLite only: page cache of each of the projector's connections, MiB "
    "($KOPSYNC_PROJECT_SQLITE_CACHE_MIB).",
)
@click.option(
    "--sqlite-mmap-mib",
    envvar="KOPSYNC_PROJECT_SQLITE_MMAP_MIB",
    type=click.IntRange(min=0),
    default=SQLITE_MMAP_BYTES >> 20,
    show_default=True,
    help="SQLite only: how much of the database file is memory-mapped, MiB; 0 maps none "
    "($KOPSYNC_PROJECT_SQLITE_MMAP_MIB).",
)
@metrics_option
@json_option
@log_format_option(None)
@friendly
@settings_from(ProjectSettings)
def project(settings: ProjectSettings) -> None:
    """Fold committed events into the read models, exactly once.

    With --once, project what is committed now and exit; without, keep following the
    store (woken by the canonical stream when --nats is given).
    """
    s = settings
    log_format, as_json = s.log_format, s.as_json
    configure_logging(as_json=(log_format or ("json" if as_json else "console")) == "json")
    with Projector(
        s.db_url,
        batch_size=s.batch_size,
        cache_rows=s.cache_rows,
        sqlite_cache_kib=s.sqlite_cache_mib * 1024,
        sqlite_mmap_bytes=s.sqlite_mmap_mib << 20,
        create=False,
    ) as projector:
        if s.once:
            _report(projector.run_once(), projector, as_json)
            return
        stop = threading.Event()
        with contextlib.suppress(ValueError):  # not the main thread (tests): no handler
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.ExitStack() as probes:
            ran: Callable[[RunResult], None] = _ran
            if s.metrics_listen is not None:
                ran = _probes(probes, projector, s.metrics_listen)
            try:
                if s.nats_url:
                    connection = s.connection("kopsync-projector")
                    asyncio.run(_follow_nats(projector, connection, s.poll, stop, ran))
                else:
                    _follow(projector, s.poll, stop, ran)
            except KeyboardInterrupt:
                pass


def _ran(res: RunResult) -> None:
    if res.events:
        _logged(res)


def _probes(
    stack: contextlib.ExitStack, projector: Projector, listen: str
) -> Callable[[RunResult], None]:
    """Serve the projector's metrics; return what each step reports to."""
    from prometheus_client import CollectorRegistry

    from central_projector.projection.metrics import ProjectorMetrics, store_ready
    from kopsync.probes import ProbeServer

    registry = CollectorRegistry()
    metrics = ProjectorMetrics(projector.engine, registry, names=(NAME,))
    stack.enter_context(ProbeServer(listen, registry, ready=store_ready(metrics)))

    def ran(res: RunResult) -> None:
        metrics.ran(res)
        _ran(res)

    return ran


def _report(res: RunResult, projector: Projector, as_json: bool) -> None:
    held = projector.pending_held()
    summary = {
        "events": res.events,
        "rows_written": res.rows,
        "steps": res.steps,
        "position": res.position,
        "held_waiting": held,
        "seconds": round(res.seconds, 3),
        "events_per_s": int(res.rate),
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"projected {plural(res.events, 'event')} in {decimal(res.seconds, 2)} s "
            f"({count(int(res.rate))}/s), position {count(res.position)}, "
            f"{count(held)} held behind gaps"
        )


def _follow(
    projector: Projector, poll: float, stop: threading.Event, ran: Callable[[RunResult], None]
) -> None:
    log.info("following the central store", db=projector.url, poll_s=poll)
    while not stop.is_set():
        ran(projector.run_once())
        stop.wait(poll)


def _logged(res: RunResult) -> None:
    log.info("projected", events=res.events, rows=res.rows, position=res.position,
             events_per_s=int(res.rate))  # fmt: skip


async def _follow_nats(
    projector: Projector,
    connection: ConnectOptions,
    poll: float,
    stop: threading.Event,
    ran: Callable[[RunResult], None],
) -> None:
    """Project on every canonical event seen (and at least every ``poll`` seconds).

    The stream only wakes the projector; what is projected is read from the store, so a
    message lost in transport delays nothing beyond the next poll and changes nothing.
    """
    wake = asyncio.Event()

    async def on_event(_msg: Any) -> None:
        wake.set()

    # A service: it waits for the server as long as it takes, then rides out its restarts.
    async with connected(connection, None, log=log) as link:
        await link.nc.subscribe(subjects.canonical_wildcard(), cb=on_event)
        log.info("following the central store, woken by NATS", db=projector.url, poll_s=poll)
        while not stop.is_set():
            wake.clear()
            ran(await asyncio.to_thread(projector.run_once))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=poll)


@click.group(name="show")
def show() -> None:
    """Show read models."""


@show.command(name="coop")
@click.argument("coop_id")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-MM-DD",
    help="Business date of the loan book (arrears, buckets, PAR30); default today in the "
    "cooperative's time zone (WIB, WITA or WIT from its province code).",
)
@db_option
@json_option
@friendly
def show_coop(coop_id: str, as_of: str | None, db_url: str, as_json: bool) -> None:
    """The read models of one cooperative: members, savings, loans, shop, aid, fund, sync."""
    check_coop_id(coop_id)
    if as_of is not None:
        check_date(as_of, "--as-of")
    with CentralReader(db_url) as reader:
        view = reader.show_coop(coop_id, as_of)
    if as_json:
        emit_json(view)
        return
    _print_coop(view)


def _print_coop(v: dict[str, Any]) -> None:
    m, s, lo, aid = v["members"], v["savings"], v["loans"]["portfolio"], v["aid"]
    ent = aid["entitlements"]
    negative = [x for x in v["stock"] if x["negative"]]
    open_items = [c for c in v["conflicts"] if c["status"] == "OPEN"]
    days = {x["day"] for x in v["sales"]}
    credit = v["member_credit"]
    by_product = ", ".join(f"{k} {rupiah(x)}" for k, x in s["by_product"].items())
    lines = [
        f"Cooperative {v['coop_id']}: {plural(v['events'], 'event')}, "
        f"business date {v['as_of'] or lo['as_of']}",
        f"  members      {plural(m['count'], 'member')} ({counts(m['by_status']) or 'none'}), "
        f"{plural(m['aliases'], 'alias', 'aliases')}, "
        f"{plural(m['nik_collisions'], 'NIK collision')}",
        f"  savings      {rupiah(s['total'])} in {plural(s['accounts'], 'account')}"
        + (f": {by_product}" if by_product else ""),
        f"  loans        {plural(lo['loans'], 'loan')} on {lo['as_of']}, {count(lo['running'])} "
        f"running, principal outstanding {rupiah(lo['outstanding_principal'])}, "
        f"PAR30 {percent_bp(lo['par30_bp'])} ({rupiah(lo['par30'])}), "
        f"written off {rupiah(lo['written_off'])}, recovered {rupiah(lo['recovered'])}",
        "               arrears "
        + ", ".join(f"{k} {rupiah(x)}" for k, x in lo["arrears_buckets"].items()),
        f"  sales        {rupiah(sum(x['amount'] for x in v['sales']))} over "
        f"{plural(len(days), 'day')}",
        f"  credit       {rupiah(sum(x['outstanding'] for x in credit))} owed by "
        f"{plural(sum(1 for x in credit if x['outstanding']), 'member')} (member credit), "
        f"{rupiah(sum(x['overpaid'] for x in credit))} overpaid",
        f"  stock        {plural(len(v['stock']), 'item')}, {count(len(negative))} below zero",
        f"  aid          {plural(ent['count'], 'entitlement')}, {count(ent['redeemed'])} "
        f"redeemed, {count(ent['with_duplicates'])} redeemed twice (at risk "
        f"{rupiah(ent['value_at_risk'])}), "
        f"{plural(len(aid['cards']['overspent']), 'card')} overspent",
    ]
    for f in v["stimulus"]:
        lines.append(
            f"  fund {f['fund_id']}  allocated {rupiah(f['allocated'])}, disbursed "
            f"{rupiah(f['disbursed'])}, utilised {rupiah(f['utilised'])}, "
            f"repaid {rupiah(f['repaid'])}, balance {rupiah(f['balance'])}"
        )
    lines.append(
        f"  logistics    {plural(len(v['logistics']['shipments']), 'shipment')}, "
        f"{plural(v['logistics']['discrepancies'], 'discrepancy', 'discrepancies')}"
    )
    for d in v["sync_health"]["devices"]:
        r = v["sync_health"]["receipts"][d["device_id"]]
        lines.append(
            f"  device {d['device_id']}  {plural(d['events'], 'event')} up to seq "
            f"{count(d['max_seq'])}, lag {plural(round(r['lag_ms'] / 1000), 'second')}, "
            f"{count(d['gap_count'])} GAP, {count(d['skew_count'])} CLOCK_SKEW"
        )
    lines.append(f"  conflicts    {count(len(open_items))} open of {count(len(v['conflicts']))}")
    click.echo("\n".join(lines))


@click.command(name="conflicts")
@db_option
@click.option("--open", "open_only", is_flag=True, help="Only items not yet decided.")
@click.option("--coop", "coop_id", default=None, help="Only this cooperative's items.")
@json_option
@friendly
def conflicts_cmd(db_url: str, open_only: bool, coop_id: str | None, as_json: bool) -> None:
    """The conflict queue: every active item of the conflict rules and every decision."""
    if coop_id is not None:
        check_coop_id(coop_id)
    with CentralReader(db_url) as reader:
        items = reader.conflicts(coop_id, open_only)
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo("no conflicts" + (" open" if open_only else ""))
    for i in items:
        what = i["subject"] or "(condition cleared)"
        decided = f"  → {i['resolution']['decision']}" if i["resolution"] else ""
        click.echo(f"{i['id']}  {i['status']:<8} {i['kind'] or '-':<24} {what}{decided}")


@click.command()
@click.argument("conflict_id")
@click.option(
    "--decision", required=True, help="What was decided, e.g. ACCEPT, MERGE, REIMBURSE_WINNER_ONLY."
)
@click.option("--note", required=True, help="Why, in a sentence (kept with the decision).")
@click.option("--by", "resolved_by", default=None, help="Who decided.")
@db_option
@json_option
@friendly
def resolve(
    conflict_id: str, decision: str, note: str, resolved_by: str | None, db_url: str, as_json: bool
) -> None:
    """Record a decision on a conflict item (a ConflictResolved event) and project it."""
    with Projector(db_url, create=False) as projector:
        projector.run_once()
        with CentralStore(db_url, create=False) as store:
            done = resolve_conflict(store, conflict_id, decision, note, resolved_by=resolved_by)
        projector.run_once()
    if as_json:
        emit_json({"conflict_id": conflict_id, "event_id": done.event_id, "decision": decision})
    else:
        again = " (it had a decision already; this one is later)" if done.decided_before else ""
        click.echo(f"resolved {conflict_id} ({done.kind}) as {decision}{again}")


def register(group: click.Group) -> None:
    """Add ``project``, ``show``, ``conflicts`` and ``resolve`` to ``group``."""
    group.add_command(project)
    group.add_command(show)
    group.add_command(conflicts_cmd)
    group.add_command(resolve)


__all__ = ["register"]
