"""``kopsync edge simulate``: record N realistic events through the teller API."""

from __future__ import annotations

from pathlib import Path

import click

from edge_agent.app.agent import EdgeAgent
from kopsync.cli.common import emit_json
from kopsync.cli.edge.teller.common import TellerCommand, common_options


@click.command("simulate", cls=TellerCommand)
@click.option(
    "--events",
    "count",
    required=True,
    type=click.IntRange(min=1),
    help="How many events to record.",
)
@click.option(
    "--seed",
    type=click.INT,
    default=1,
    show_default=True,
    help="Devices of one cooperative with the same seed share members, cards, goods.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Events per transaction (1 = one transaction per event).",
)
@common_options
def simulate_command(data_dir: Path, as_json: bool, count: int, seed: int, batch: int) -> None:
    """Record N realistic, valid events of every edge area through the teller API.

    Running it again on the same device continues where the last run stopped.
    """
    from edge_agent.devtools.sim import simulate

    with EdgeAgent(data_dir) as agent:
        result = simulate(agent, count, seed=seed, batch=batch)
    if as_json:
        emit_json(result.to_json())
        return
    click.echo(
        f"installed {result.reference_events} simulated central reference events "
        "(as if received over the downlink)"
    )
    click.echo(
        f"recorded {result.recorded} events (seq {result.first_seq}..{result.last_seq}) "
        f"in {result.seconds:.2f} s ({result.rate:,.0f} events/s)"
    )
    for event_type, n in sorted(result.by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {n:>7}  {event_type}")
