"""``kopsync edge simulate``: valid, complete, reproducible, and cross-device by design."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edge_agent.app.agent import EdgeAgent, LogEntry
from edge_agent.devtools.sim import Pool, simulate
from kopsync.cli.main import cli
from schemas import REGISTRY

COOP = "6401050012-PBL"  # Paser Belengkong (village code made up within 6401)
AREAS = {"membership", "savings", "loans", "shop", "aid", "stimulus", "logistics"}
EVENT_ID_FIELDS = ("reversed_event_id", "redemption_event_id")


def device(tmp_path: Path, name: str, coop: str = COOP) -> EdgeAgent:
    return EdgeAgent.init(tmp_path / name, coop, name)


def commands(entries: list[LogEntry]) -> list[tuple[str, str, dict[str, Any]]]:
    """What was recorded, without what the store makes up (event ids, HLC)."""
    return [
        (e.envelope.type, e.envelope.aggregate_id,
         {k: v for k, v in e.payload.items() if k not in EVENT_ID_FIELDS})
        for e in entries
    ]  # fmt: skip


def test_simulate_records_exactly_n_valid_events_of_every_area(tmp_path: Path) -> None:
    """2000 simulated events are recorded, all areas appear, and the chain verifies."""
    result = CliRunner().invoke(
        cli,
        ["edge", "init", "--coop", COOP, "--device", "kasir-1", "--data", str(tmp_path / "d")],
    )
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(
        cli, ["edge", "simulate", "--events", "2000", "--data", str(tmp_path / "d"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["recorded"] == 2000 and summary["last_seq"] == 2000
    assert summary["reference_events"] > 0
    with EdgeAgent(tmp_path / "d") as agent:
        types = Counter(e.envelope.type for e in agent.log())
        assert agent.verify().ok
    assert sum(types.values()) == 2000 and dict(types) == summary["by_type"]
    assert {REGISTRY.get(t).area for t in types} == AREAS
    assert set(types) <= set(REGISTRY.types_from("edge"))


def test_simulate_is_reproducible_for_a_seed_and_independent_of_batch_size(
    tmp_path: Path,
) -> None:
    """The same seed on the same device records the same commands, however it is batched."""
    runs = []
    for name, batch in (("a", 50), ("b", 1), ("c", 7)):
        with EdgeAgent.init(tmp_path / name, COOP, "kasir-1") as agent:
            simulate(agent, 400, seed=11, batch=batch)
            runs.append(commands(list(agent.log())))
    assert runs[0] == runs[1] == runs[2]
    with device(tmp_path, "kasir-1") as other_seed:
        simulate(other_seed, 400, seed=12)
        assert commands(list(other_seed.log())) != runs[0]


def test_a_second_run_continues_without_refusals_or_reused_ids(tmp_path: Path) -> None:
    """Simulating twice on one device continues: new ids, no duplicate reference data."""
    with device(tmp_path, "kasir-1") as agent:
        first = simulate(agent, 700, seed=3)
        second = simulate(agent, 700, seed=3)
        entries = list(agent.log())
        assert agent.verify().ok
        downlink = list(agent.store.central_events())
    assert first.reference_events > 0 and second.reference_events == 0
    assert len(downlink) == first.reference_events
    assert (second.first_seq, second.last_seq) == (701, 1400)
    created = ("MemberRegistered", "SavingsAccountOpened", "LoanApplied", "SaleRecorded")
    ids = [e.envelope.aggregate_id for e in entries if e.envelope.type in created]
    assert len(ids) == len(set(ids))
    later = {e.envelope.type for e in entries[700:]}
    assert {"SavingsWithdrawn", "LoanRepaymentReceived", "AidRedeemed"} <= later


def _stock_went_negative_with_an_override(entries: list[LogEntry]) -> bool:
    """Replay the main counter's stock and look for an override sale that took it below 0."""
    on_hand: Counter[str] = Counter()
    sold: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        t, p = e.envelope.type, e.payload
        if t in ("StockReceived", "StockAdjusted", "StockCounted") and p["location"] != "main":
            continue
        if t == "StockReceived":
            on_hand[p["sku"]] += p["qty"]
        elif t == "StockAdjusted":
            on_hand[p["sku"]] += p["delta"]
        elif t == "StockCounted":
            on_hand[p["sku"]] = p["counted_qty"]
        elif t == "ShipmentReceived" and p["location"] == "main":
            for line in p["lines"]:
                on_hand[line["sku"]] += line["qty"]
        elif t == "SaleRecorded":
            sold[e.envelope.aggregate_id] = p["lines"]
            for line in p["lines"]:
                on_hand[line["sku"]] -= line["qty"]
            if "stock_override_reason" in p and min(on_hand.values()) < 0:
                return True
        elif t == "SaleVoided":
            for line in sold[e.envelope.aggregate_id]:
                on_hand[line["sku"]] += line["qty"]
    return False


def test_two_devices_of_a_coop_produce_the_cross_device_cases(tmp_path: Path) -> None:
    """Two devices, same seed: a NIK, an entitlement and a founder's field on both; stock < 0."""
    logs = []
    for name in ("kasir-1", "kasir-2"):
        with device(tmp_path, name) as agent:
            simulate(agent, 600, seed=9)
            logs.append(list(agent.log()))

    def of(entries: list[LogEntry], event_type: str) -> list[LogEntry]:
        return [e for e in entries if e.envelope.type == event_type]

    a, b = logs
    niks = [{e.payload["nik"] for e in of(x, "MemberRegistered")} for x in logs]
    assert niks[0] & niks[1], "no NIK registered on both devices"
    members = [{e.envelope.aggregate_id for e in of(x, "MemberRegistered")} for x in logs]
    assert not members[0] & members[1], "devices minted the same member id"
    ents = [{e.envelope.aggregate_id for e in of(x, "AidRedeemed")} for x in logs]
    assert ents[0] & ents[1], "no entitlement redeemed on both devices"
    edits = [
        {(e.envelope.aggregate_id, e.payload["field"]) for e in of(x, "MemberProfileFieldChanged")}
        for x in logs
    ]
    assert edits[0] & edits[1], "no member field edited on both devices"
    assert _stock_went_negative_with_an_override(a)
    assert _stock_went_negative_with_an_override(b)
    shared = len(niks[0] & niks[1]) / min(len(niks[0]), len(niks[1]))
    assert shared < 0.5, "most people should register at one counter only"


@pytest.mark.parametrize("coop", ["6208", "620801", "6271012003-KDMP"])
def test_the_pool_makes_valid_people_for_any_coop_id(coop: str) -> None:
    """Every pooled person passes the MemberRegistered schema, in the coop's own regency."""
    pool = Pool(coop, 1)
    for i in range(200):
        p = pool.person(i)
        payload = {k: v for k, v in vars_of(p).items() if v is not None}
        REGISTRY.validate("MemberRegistered", payload)
        assert p.desa_code.startswith(coop[:4]) and p.nik.startswith(p.desa_code[:6])
    niks = {pool.person(i).nik for i in range(2000)}
    assert len(niks) == 2000


def vars_of(p: Any) -> dict[str, Any]:
    return {k: getattr(p, k) for k in type(p).__slots__}


def test_another_seed_on_a_simulated_device_is_refused_plainly(tmp_path: Path) -> None:
    """A device simulated with one seed refuses another seed in one line, recording nothing."""
    data = tmp_path / "kasir-1"
    with EdgeAgent.init(data, COOP, "kasir-1") as agent:
        simulate(agent, 50, seed=1)
    result = CliRunner().invoke(
        cli, ["edge", "simulate", "--events", "50", "--seed", "2", "--data", str(data)]
    )
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "another seed" in result.stderr
    with EdgeAgent(data) as agent:
        assert agent.head().seq == 50
