"""A device notices a store changed outside kopsync, refuses to record on it, and repairs it.

Each attack of the hostile-input review is made on a real SQLite file, as someone with the
file but not ``device.key`` would: unblocking a card in ``views``, raising an exhausted
allowance, flipping a byte of a stored central event, deleting one. Each is found by
``kopsync edge verify`` and by the start-up check; recording is refused (CLI: one ``error:``
line; HTTP: 503) until ``kopsync edge repair`` rebuilt the views from the signed logs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from click.testing import CliRunner
from support.edge_http import CENTRAL, LiveApi

from edge_agent.app.agent import DB_NAME, EdgeAgent
from edge_agent.app.integrity import IntegrityReport, examine
from edge_agent.app.repair import repair
from edge_agent.app.syncstate import read_sync, update_sync
from kopsync.cli.main import cli
from sync_core.envelope import Envelope, seal
from sync_core.errors import RuleViolation, StoreError, StoreTampered
from sync_core.signing import DeviceKey


def redeem(agent: EdgeAgent, entitlement: str, card: str, value: int) -> Envelope:
    payload = {"card_uid": card, "allowance_id": "ALW-1", "value": value, "verification": "CHIP"}
    return agent.record("AidRedeemed", payload, entitlement)


def receive_stock(agent: EdgeAgent, n: int = 1) -> Envelope:
    payload = {"sku": "BERAS-5KG", "qty": 10, "supplier": "Bulog", "doc_no": f"DO-{n}"}
    return agent.record("StockReceived", payload | {"location": "toko"}, "BERAS-5KG")


def db(agent: EdgeAgent) -> sqlite3.Connection:
    return sqlite3.connect(agent.data_dir / DB_NAME)


def edit_view(agent: EdgeAgent, key: str, change: Callable[[dict[str, Any]], None]) -> None:
    with db(agent) as conn:
        (raw,) = conn.execute("SELECT value FROM views WHERE key=?", (key,)).fetchone()
        view = msgpack.unpackb(raw)
        change(view)
        conn.execute("UPDATE views SET value=? WHERE key=?", (msgpack.packb(view), key))


def central_row(agent: EdgeAgent, event_type: str, aggregate: str) -> int:
    """The issuer seq of the stored central event ``event_type`` about ``aggregate``."""
    for env in agent.store.central_events():
        if (env.type, env.aggregate_id) == (event_type, aggregate):
            return env.seq
    raise AssertionError(f"no {event_type} {aggregate} held")


def unblock_card(agent: EdgeAgent) -> None:
    edit_view(agent, "card:KHBS-2", lambda v: v.update(blocked=False, reason=None))


def raise_allowance(agent: EdgeAgent) -> None:
    edit_view(agent, "allowance:ALW-1", lambda v: v.update(max_count=9, max_value=9_000_000))


def flip_downlink_byte(agent: EdgeAgent) -> None:
    seq = central_row(agent, "EntitlementGranted", "ENT-4")
    with db(agent) as conn:
        where = "WHERE originator_id=? AND originator_version=?"
        (raw,) = conn.execute(
            f"SELECT state FROM downlink_events {where}", (CENTRAL, seq)
        ).fetchone()
        flipped = bytearray(raw)
        flipped[-40] ^= 0x01
        conn.execute(f"UPDATE downlink_events SET state=? {where}", (bytes(flipped), CENTRAL, seq))


def delete_downlink_event(agent: EdgeAgent) -> None:
    seq = central_row(agent, "CardBlocked", "KHBS-2")
    with db(agent) as conn:
        conn.execute(
            "DELETE FROM downlink_events WHERE originator_id=? AND originator_version=?",
            (CENTRAL, seq),
        )


ATTACKS = {
    "unblock_card": unblock_card,
    "raise_allowance": raise_allowance,
    "flip_downlink_byte": flip_downlink_byte,
    "delete_downlink_event": delete_downlink_event,
}


def prepare(agent: EdgeAgent, attack: str) -> None:
    """The honest history before the attack: the allowance is used up for that one."""
    receive_stock(agent)
    if attack == "raise_allowance":
        redeem(agent, "ENT-1", "KHBS-1", 300_000)
        redeem(agent, "ENT-2", "KHBS-1", 200_000)


def what_the_attack_enables(agent: EdgeAgent, attack: str) -> None:
    """The recording the attack is for: a blocked card, or beyond the allowance."""
    if attack == "raise_allowance":
        redeem(agent, "ENT-4", "KHBS-1", 100_000)
    else:
        redeem(agent, "ENT-3", "KHBS-2", 300_000)


def found(report: IntegrityReport, attack: str) -> bool:
    """Whether the full check names what the attack changed."""
    if attack in ("unblock_card", "raise_allowance"):
        keys = {"unblock_card": "card:KHBS-2", "raise_allowance": "allowance:ALW-1"}
        return [d.key for d in report.differ] == [keys[attack]] and report.seal[0][0] == "views"
    if attack == "flip_downlink_byte":
        [bad] = report.bad_rows
        return bad.table == "downlink_events" and "signature" in bad.reason
    return [part for part, _ in report.seal] == ["downlink_events"]


def test_an_untouched_store_verifies_in_full(aid: EdgeAgent) -> None:
    """Chain, central events, seal and the fold of the signed logs all agree on a used store."""
    prepare(aid, "raise_allowance")
    report = examine(aid)
    assert report.ok, report
    assert report.rows_checked == {"device_events": 3, "downlink_events": 10}
    result = CliRunner().invoke(cli, ["edge", "verify", "--data", str(aid.data_dir)])
    assert result.exit_code == 0, result.output
    assert "10 central events verify against the pinned central key" in result.output
    assert "rule views equal the fold of the signed logs" in result.output


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_tampering_is_found_and_refused_until_repaired(aid: EdgeAgent, attack: str) -> None:
    """verify and the start-up check find the attack; nothing is recorded (the blocked card,
    the exhausted allowance) until repair, after which recording works and the rules hold."""
    prepare(aid, attack)
    data = aid.data_dir
    aid.close()
    ATTACKS[attack](EdgeAgent(data))

    with EdgeAgent(data) as agent:
        assert found(examine(agent), attack), examine(agent)
        assert agent.trust_problems()
        head = agent.head().seq
        with pytest.raises(StoreTampered, match="kopsync edge repair"):
            what_the_attack_enables(agent, attack)
        with pytest.raises(StoreTampered):
            receive_stock(agent, 2)
        assert agent.head().seq == head

    runner = CliRunner()
    stock = '{"sku": "GULA", "qty": 1, "supplier": "UD Maju", "doc_no": "SJ-9", "location": "toko"}'
    recorded = ["edge", "record", "StockReceived", "--json", stock, "--aggregate", "GULA"]
    refused = runner.invoke(cli, [*recorded, "--data", str(data)])
    assert refused.exit_code != 0
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: ") and "kopsync edge repair --data" in line
    assert runner.invoke(cli, ["edge", "verify", "--data", str(data)]).exit_code == 1

    fixed = runner.invoke(cli, ["edge", "repair", "--data", str(data)])
    assert fixed.exit_code == 0, fixed.output
    assert "repaired:" in fixed.output
    assert runner.invoke(cli, [*recorded, "--data", str(data)]).exit_code == 0

    with EdgeAgent(data) as agent:
        assert examine(agent).ok and not agent.trust_problems()
        receive_stock(agent, 3)
        if attack == "raise_allowance":
            with pytest.raises(RuleViolation, match="allowance ALW-1 has 0 redemptions"):
                what_the_attack_enables(agent, attack)
        elif attack == "unblock_card":
            with pytest.raises(RuleViolation, match="KHBS-2 is blocked"):
                what_the_attack_enables(agent, attack)
        else:
            # The lost or broken central event is read again from the start at the next
            # sync (test_downlink_tampering covers it over a real nats-server).
            assert read_sync(agent)["downlink_position"] == 0
        if attack == "flip_downlink_byte":
            assert agent.view("entitlement:ENT-4") is None
            [note] = agent.store.meta("downlink_refused")
            assert note["reason"] == "tampered_in_store"


def test_the_api_answers_503_until_repaired(aid: EdgeAgent) -> None:
    """On a tampered store, recordings and queries answer 503 problem details and /readyz is
    not ready; after repair the same running API records again."""
    data = aid.data_dir
    aid.close()
    unblock_card(EdgeAgent(data))
    with EdgeAgent(data) as agent, LiveApi(agent) as api:
        body = {"card_uid": "KHBS-2", "allowance_id": "ALW-1", "value": 300_000}
        reply = api.refused("/v1/aid/entitlements/ENT-3/redemption", body, 503, "store_not_trusted")
        assert "kopsync edge repair" in reply.body["detail"]
        assert api.get("/v1/aid/cards/KHBS-2").code == "store_not_trusted"
        assert api.get("/readyz").status == 503
        repair(agent)
        api.refused("/v1/aid/entitlements/ENT-3/redemption", body, 409, "card_blocked")
        stock = {"sku": "GULA", "qty": 1, "supplier": "UD Maju", "doc_no": "SJ-1"}
        stock["location"] = "toko"
        assert api.ok("/v1/stock/receipts", stock)["seq"] == 1
        assert api.get("/readyz").status == 200


def test_a_repinned_key_does_not_vouch_for_a_forged_central_event(aid: EdgeAgent) -> None:
    """Pinning another key in the sync record and adding an event it signed: start-up and
    verify refuse, and repair drops the event (the seal pins the central's key)."""
    data = aid.data_dir
    forger = DeviceKey.generate()
    update_sync(aid, {"central_key": forger.public_key})
    last = max(aid.store.central_events(), key=lambda e: e.seq)
    forged = seal(
        forger,
        event_id="00000000-0000-4000-8000-000000000001",
        coop_id=aid.coop_id,
        device_id=CENTRAL,
        seq=last.seq + 1,
        hlc=last.hlc,
        type="RedemptionAllowanceAllocated",
        version=1,
        aggregate_id="ALW-1",
        payload={"scope": "COOP", "program": "BLT", "cycle": "2026-11", "max_count": 99,
                 "max_value": 99_000_000},
        prev_hash=last.hash,
    )  # fmt: skip
    aid.close()
    with sqlite3.connect(data / DB_NAME) as conn:
        conn.execute(
            "INSERT INTO downlink_events (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            (CENTRAL, forged.seq, "RedemptionAllowanceAllocated:v1", forged.encode()),
        )
    with EdgeAgent(data) as agent:
        assert agent.trust_problems()
        [bad] = examine(agent).bad_rows
        assert bad.seq == forged.seq and "signature" in bad.reason
        [dropped] = repair(agent).dropped
        assert dropped.seq == forged.seq
        assert agent.view("allowance:ALW-1")["max_count"] == 2  # type: ignore[index]


def test_repair_refuses_a_broken_own_log(aid: EdgeAgent) -> None:
    """A flipped byte in the device's own log is not something a fold can mend: repair says
    so in one line and changes nothing."""
    receive_stock(aid)
    data = aid.data_dir
    aid.close()
    with sqlite3.connect(data / DB_NAME) as conn:
        (raw,) = conn.execute("SELECT state FROM device_events").fetchone()
        conn.execute("UPDATE device_events SET state=?", (raw[:-1] + bytes([raw[-1] ^ 1]),))
    with EdgeAgent(data) as agent, pytest.raises(StoreError, match=r"restore .* from a backup"):
        repair(agent)
    result = CliRunner().invoke(cli, ["edge", "repair", "--data", str(data)])
    assert result.exit_code != 0 and result.stderr.count("\n") == 1


@pytest.mark.parametrize("seed", [3, 11])
def test_a_simulated_device_verifies_in_full(tmp_path: Path, seed: int) -> None:
    """After a realistic history of every area (the simulator's, with its reference data
    received as central events), the views equal the fold of the signed logs and the seal
    holds: the store records with the fold that verify replays."""
    from edge_agent.devtools.sim import simulate

    with EdgeAgent.init(tmp_path / "dev", "6401050012", "pb-kasir-1") as agent:
        simulate(agent, 600, seed=seed)
        report = examine(agent)
        assert report.ok, (report.differ[:3], report.bad_rows[:3], report.seal)
        assert report.rows_checked["downlink_events"] > 0 and not agent.trust_problems()
