"""``kopsync edge``: the commands a cooperative's device runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge_agent.app.agent import DB_NAME, REGISTRATION_NAME, EdgeAgent
from edge_agent.app.token import make_token
from kopsync.cli import exits
from kopsync.cli.common import data_option, emit_json, friendly, json_option, parse_json_object
from kopsync.cli.edge.serve import show_token
from kopsync.cli.lazy import LazyGroup

# Replication over NATS is imported only by the commands that use it: a teller command at the
# counter does not load nats-py.
LAZY = {
    "sync": "kopsync.cli.edge.sync:sync_command",
    "run": "kopsync.cli.edge.sync:run_command",
    "serve": "kopsync.cli.edge.serve:serve_command",
    "token": "kopsync.cli.edge.serve:token_command",
    "verify": "kopsync.cli.edge.trust:verify",
    "repair": "kopsync.cli.edge.trust:repair",
    "hub": "kopsync.cli.edge.hub:hub_command",
}


@click.group(cls=LazyGroup, lazy=LAZY, epilog=exits.HELP)
def edge() -> None:
    """Record and verify a cooperative device's events (works offline)."""


def open_agent(data_dir: Path) -> EdgeAgent:
    return EdgeAgent(data_dir)


@edge.command()
@click.option("--coop", "coop_id", required=True, help="Cooperative id (region code first).")
@click.option("--device", "device_id", required=True, help="Device id, at most 32 characters.")
@data_option
@json_option
@friendly
def init(coop_id: str, device_id: str, data_dir: Path, as_json: bool) -> None:
    """Create the device store, its Ed25519 key pair and the API's access token (shown once)."""
    with EdgeAgent.init(data_dir, coop_id, device_id) as agent:
        info = {
            "coop_id": agent.coop_id,
            "device_id": agent.device_id,
            "public_key": agent.public_key.hex(),
            "store": str(data_dir / DB_NAME),
            "registration": str(data_dir / REGISTRATION_NAME),
            "http_token": make_token(data_dir),
        }
    if as_json:
        emit_json(info)
    else:
        click.echo(f"initialised device {device_id} of cooperative {coop_id} in {data_dir}")
        click.echo(f"register it centrally with: kopsync central device add {info['registration']}")
        show_token(info["http_token"])


@edge.command()
@click.argument("event_type")
@click.option("--json", "payload_json", required=True, help="The payload as a JSON object.")
@click.option("--aggregate", "aggregate_id", required=True, help="Id of the aggregate.")
@click.option("--version", type=int, default=None, help="Schema version (default: latest).")
@data_option
@click.option("--print-json", "as_json", is_flag=True, help="Print the recorded event as JSON.")
@friendly
def record(
    event_type: str,
    payload_json: str,
    aggregate_id: str,
    version: int | None,
    data_dir: Path,
    as_json: bool,
) -> None:
    """Record any edge event TYPE with a JSON payload (see `kopsync schemas list`)."""
    payload = parse_json_object(payload_json)
    with open_agent(data_dir) as agent:
        env = agent.record(event_type, payload, aggregate_id, version=version)
    report(env.seq, env.type, env.aggregate_id, as_json, env.event_id)


def report(seq: int, event_type: str, aggregate_id: str, as_json: bool, event_id: str) -> None:
    if as_json:
        emit_json(
            {"seq": seq, "type": event_type, "aggregate_id": aggregate_id, "event_id": event_id}
        )
    else:
        click.echo(f"recorded seq {seq}: {event_type} {aggregate_id} (event {event_id})")


@edge.command()
@click.option("--since", type=int, default=0, help="Show events after this seq.")
@click.option("--limit", type=int, default=None, help="Show at most this many events.")
@data_option
@json_option
@friendly
def log(since: int, limit: int | None, data_dir: Path, as_json: bool) -> None:
    """Show the device's log (payloads upcast to the latest schema version)."""
    with open_agent(data_dir) as agent:
        for n, entry in enumerate(agent.log(since)):
            if limit is not None and n >= limit:
                break
            if as_json:
                click.echo(json.dumps(entry.to_json(), ensure_ascii=False, sort_keys=True))
            else:
                e = entry.envelope
                body = json.dumps(entry.to_json()["payload"], ensure_ascii=False)
                click.echo(f"{e.seq:>7}  {e.type:<30} {e.aggregate_id:<20} {body}")


@edge.command()
@data_option
@json_option
@friendly
def status(data_dir: Path, as_json: bool) -> None:
    """Show the device's identity, last seq and sync positions."""
    with open_agent(data_dir) as agent:
        st = agent.status()
    if as_json:
        emit_json(st)
    else:
        from kopsync.cli.human import count, when

        shown = dict(st)
        coop = str(st.get("coop_id", ""))
        if "last_contact" in shown:
            shown["last_contact"] = when(st["last_contact"], coop)
        if isinstance(st.get("hlc"), list | tuple) and len(st["hlc"]) == 2:
            wall, counter = st["hlc"]
            shown["hlc"] = f"{when(wall, coop)}, counter {counter}"
        # the highest seq applied of each sibling
        siblings = st.get("siblings") or []
        shown["siblings"] = (
            " ".join(f"{s['device_id']}:{s['applied_seq']}" for s in siblings) or "-"
        )
        for k, v in shown.items():
            click.echo(f"{k:<18} {count(v) if isinstance(v, int) else v}")


# The teller commands (member, savings, loan, sale, …) and `simulate` live in their own module.
from kopsync.cli.edge.teller import register as _register_teller  # noqa: E402

_register_teller(edge)
