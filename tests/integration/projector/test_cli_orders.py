"""``kopsync central project/show/conflicts/resolve`` on simulated devices, in two orders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from support.projector_db import pin_pseudonym_key, store_row

from central_projector.projection.folds import Event
from central_projector.record.store import CentralStore
from central_projector.record.tables import events
from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim import Pool, reference_events, simulate
from kopsync.cli.main import cli
from sync_core import subjects
from sync_core.batch import encode_batch
from sync_core.envelope import Envelope

COOP = "6401050012-PBL"  # Paser Belengkong (village code made up within 6401)
SEED = 5
CHUNK = 40


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two counters of one cooperative, same seed: the cross-device conflict cases."""
    root = tmp_path_factory.mktemp("edge")
    out: dict[str, Any] = {"reference": reference_events(Pool(COOP, SEED))}
    for name in ("kasir-1", "kasir-2"):
        with EdgeAgent.init(root / name, COOP, name) as agent:
            simulate(agent, 400, seed=SEED)
            own = [e.envelope for e in agent.log() if e.envelope.device_id == name]
            out[name] = (agent.public_key, own)
    return out


def _reference(store: CentralStore, envs: list[Envelope]) -> None:
    """The seed's reference data, as if the province had issued it."""
    rows = []
    for env in envs:
        ev = Event(
            (env.hlc.wall, env.hlc.counter, env.device_id, env.seq), env.event_id, env.coop_id,
            env.type, env.aggregate_id, env.payload, env.hlc.wall,
        )  # fmt: skip
        rows.append(store_row(ev))
    with store.engine.begin() as conn:
        conn.execute(sa.insert(events), rows)


def _upload(store: CentralStore, device: str, chunk: list[Envelope]) -> None:
    data = encode_batch(COOP, device, [e.encode() for e in chunk])
    res = store.process_upload(subjects.upload(COOP, device), data, now_ms=chunk[-1].hlc.wall)
    assert not res.quarantined, res.quarantined


def _chunks(envs: list[Envelope]) -> list[list[Envelope]]:
    return [envs[i : i + CHUNK] for i in range(0, len(envs), CHUNK)]


def _central(url: str, logs: dict[str, Any], order: str) -> None:
    store = CentralStore(url)
    pin_pseudonym_key(store.engine)
    for name in ("kasir-1", "kasir-2"):
        store.register_device(COOP, name, logs[name][0])
    one, two = _chunks(logs["kasir-1"][1]), _chunks(logs["kasir-2"][1])
    if order == "a":
        _reference(store, logs["reference"])
        for c in one + two:
            _upload(store, c[0].device_id, c)
    else:
        # kasir-2 first, its uploads in reverse (held behind gaps until they fill),
        # interleaved with kasir-1; the reference data last.
        for i, c in enumerate(reversed(two)):
            _upload(store, "kasir-2", c)
            if i < len(one):
                _upload(store, "kasir-1", one[i])
        for c in one[len(two) :]:
            _upload(store, "kasir-1", c)
        _reference(store, logs["reference"])
    store.close()


def kopsync(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + result.stderr
    return result


def _views(url: str, batch: str) -> tuple[Any, Any]:
    kopsync("central", "project", "--db", url, "--once", "--batch", batch)
    conflicts = json.loads(kopsync("central", "conflicts", "--db", url, "--json").stdout)
    shown = json.loads(kopsync("central", "show", "coop", COOP, "--db", url, "--json").stdout)
    shown["sync_health"].pop("receipts")
    for device in shown["sync_health"]["devices"]:
        if device["device_id"] == "central":  # its DeviceRegistered are stamped when issued
            device.pop("last_wall", None)
    return conflicts, shown


def test_two_delivery_orders_give_identical_conflicts_and_read_models(
    tmp_path: Path, logs: dict[str, Any]
) -> None:
    """Same device logs delivered in two orders: same `conflicts --json`, same `show coop`."""
    url_a, url_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    _central(url_a, logs, "a")
    _central(url_b, logs, "b")
    conflicts_a, shown_a = _views(url_a, "2000")
    conflicts_b, shown_b = _views(url_b, "37")
    assert conflicts_a == conflicts_b
    assert shown_a == shown_b
    kinds = {c["kind"] for c in conflicts_a}
    assert {"DUPLICATE_REDEMPTION", "DUPLICATE_NIK", "NEGATIVE_STOCK"} <= kinds
    assert shown_a["aid"]["reimbursement_claims"]["DISPUTED"]["count"] > 0
    assert shown_a["members"]["aliases"] > 0


def test_resolve_closes_an_item_and_bad_input_is_one_line(
    tmp_path: Path, logs: dict[str, Any]
) -> None:
    """`resolve` records ConflictResolved and the item is RESOLVED; unknown ids fail in one line."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _central(url, logs, "a")
    kopsync("central", "project", "--db", url, "--once")
    open_items = json.loads(kopsync("central", "conflicts", "--db", url, "--open", "--json").stdout)
    target = next(i for i in open_items if i["kind"] == "DUPLICATE_REDEMPTION")
    kopsync("central", "resolve", target["id"], "--decision", "REIMBURSE_WINNER",
            "--note", "kartu ditempel di dua koperasi", "--db", url)  # fmt: skip
    after = {
        i["id"]: i
        for i in json.loads(kopsync("central", "conflicts", "--db", url, "--json").stdout)
    }
    assert after[target["id"]]["status"] == "RESOLVED"
    assert after[target["id"]]["resolution"]["decision"] == "REIMBURSE_WINNER"
    still_open = json.loads(kopsync("central", "conflicts", "--db", url, "--open", "--json").stdout)
    assert target["id"] not in {i["id"] for i in still_open}
    for bad in (
        ["central", "resolve", "C-nope", "--decision", "X", "--note", "n", "--db", url],
        ["central", "resolve", target["id"], "--decision", "no spaces", "--note", "n", "--db", url],
        ["central", "show", "coop", "6401", "--db", url],
        ["central", "show", "coop", "not-a-coop", "--db", url],
    ):
        result = CliRunner().invoke(cli, bad)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
