"""The teller commands of `kopsync edge` end to end: real stores, real CLI, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim import Pool, install_reference
from kopsync.cli.main import cli
from schemas import REGISTRY

COOP = "6472021005-LMP"  # Lempake, Samarinda Utara (village code made up within 6472)
SEED = 5


def kopsync(data: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["edge", *args, "--data", str(data)], catch_exceptions=False)


def ok(data: Path, *args: str) -> dict[str, Any]:
    """Run a command with --json that must succeed; return its JSON."""
    result = kopsync(data, *args, "--json")
    assert result.exit_code == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def refused(data: Path, *args: str) -> str:
    """Run a command that must be refused; return its one error line."""
    before = kopsync(data, "log", "--json").stdout
    result = kopsync(data, *args)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    assert kopsync(data, "log", "--json").stdout == before, "a refused command changed the log"
    return lines[0]


def logged_types(data: Path) -> set[str]:
    out = kopsync(data, "log", "--json").stdout
    return {json.loads(line)["type"] for line in out.splitlines()}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    data = tmp_path / "kasir-1"
    result = kopsync(data, "init", "--coop", COOP, "--device", "kasir-1")
    assert result.exit_code == 0, result.stderr
    return data


@pytest.fixture
def aid_store(store: Path) -> Path:
    """A store holding the simulator's reference data (entitlements, cards, allowances)."""
    with EdgeAgent(store) as agent:
        assert install_reference(agent, Pool(COOP, SEED)) > 0
    return store


def test_every_edge_event_type_is_recorded_through_the_cli(aid_store: Path) -> None:
    """Each edge event type of the catalog can be recorded with its own teller command."""
    d = aid_store
    member = ok(d, "member", "register", "--nik", "6472014403900001", "--kk",
                "6472010101150001", "--name", "Siti Aminah", "--birth-date", "1990-03-04",
                "--desa", "6472021005", "--phone", "+6281234567890")["member_id"]  # fmt: skip
    other = ok(d, "member", "register", "--nik", "6472011212800002", "--kk", "6472010101150002",
               "--name", "Budi Santoso", "--birth-date", "1980-12-12", "--desa", "6472021005",
               "--id", "M-kasir-1-2")["member_id"]  # fmt: skip
    assert other == "M-kasir-1-2" and member.startswith("M-")
    ok(d, "member", "approve", member, "--by", "Ketua")
    ok(d, "member", "change", member, "--field", "phone", "--value", "+6285212345678")
    ok(d, "member", "resign", other, "--reason", "pindah domisili")

    account = ok(d, "savings", "open", "--member", member, "--product", "SUKARELA")["account_id"]
    ok(d, "savings", "deposit", account, "--amount", "150000", "--receipt", "KW-1")
    out = ok(d, "savings", "withdraw", account, "--amount", "50000", "--receipt", "KW-2")
    ok(d, "savings", "reverse", account, "--event", out["event_id"], "--reason", "salah input")

    loan = ok(d, "loan", "apply", "--member", member, "--amount", "2000000", "--purpose",
              "modal warung", "--tenor", "10")["loan_id"]  # fmt: skip
    ok(d, "loan", "approve", loan, "--principal", "2000000", "--rate-bp", "1200", "--tenor", "10")
    ok(d, "loan", "disburse", loan)
    rep = ok(d, "loan", "repay", loan, "--amount", "220000", "--receipt", "KW-3")
    ok(d, "loan", "reverse", loan, "--event", rep["event_id"], "--reason", "tercatat dua kali")

    ok(d, "price", "set", "GULA-1KG", "--price", "18500")
    ok(d, "stock", "receive", "GULA-1KG", "--qty", "20", "--supplier", "UD Sumber Rejeki",
       "--doc", "SJ-1", "--unit-cost", "16000")  # fmt: skip
    sale = ok(d, "sale", "record", "--line", "GULA-1KG:2", "--pay", "cash:20000",
              "--pay", "member_credit:17000", "--member", member)["sale_id"]  # fmt: skip
    credit = ok(d, "sale", "record", "--line", "GULA-1KG:1", "--pay", "member_credit:18500",
                "--member", member)["sale_id"]  # fmt: skip
    ok(d, "sale", "void", sale, "--reason", "pembeli batal")
    assert ok(d, "credit", "show", member)["owed"] == 18500
    assert "owes Rp18.500" in refused(d, "credit", "repay", member, "--amount", "18501",
                                      "--receipt", "KW-5")  # fmt: skip
    rep = ok(d, "credit", "repay", member, "--amount", "18500", "--receipt", "KW-5")
    assert ok(d, "credit", "show", member)["owed"] == 0
    ok(d, "credit", "reverse", member, "--event", rep["event_id"], "--reason", "salah anggota")
    assert ok(d, "credit", "show", member)["owed"] == 18500
    assert "already reversed" in refused(d, "credit", "reverse", member, "--event",
                                         rep["event_id"], "--reason", "lagi")  # fmt: skip
    assert "no member-credit repayment ev-none" in refused(
        d, "credit", "reverse", member, "--event", "ev-none", "--reason", "x")  # fmt: skip
    assert credit.startswith("SL-")
    ok(d, "stock", "adjust", "GULA-1KG", "--delta", "-2", "--reason", "kemasan sobek")
    ok(d, "stock", "count", "GULA-1KG", "--qty", "16")

    ent = Pool(COOP, SEED).entitlements[0]
    ok(d, "aid", "redeem", ent.id, "--card", ent.card_uid)
    ok(d, "aid", "void", ent.id, "--reason", "kartu tertempel dua kali")

    fund = Pool(COOP, SEED).fund_id
    ok(d, "fund", "utilize", fund, "--amount", "5000000", "--purpose", "MEMBER_LOANS",
       "--doc", "BKK-1")  # fmt: skip
    ok(d, "fund", "repay", fund, "--amount", "500000", "--receipt", "KW-4", "--member", member)

    shipment = ok(d, "shipment", "dispatch", "--origin", "main", "--to", "6472021006",
                  "--item", "GULA-1KG:5")["shipment_id"]  # fmt: skip
    ok(d, "shipment", "receive", shipment, "--item", "GULA-1KG:4", "--location", "gudang")
    ok(d, "shipment", "discrepancy", shipment, "--sku", "GULA-1KG", "--expected", "5",
       "--received", "4", "--reason", "satu karung sobek")  # fmt: skip

    assert logged_types(d) == set(REGISTRY.types_from("edge"))
    assert ok(d, "verify")["ok"] is True


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("savings", "deposit", "S-1", "--amount", "1.5", "--receipt", "KW-1"), "--amount"),
        (("record", "SavingsDeposited", "--json", '{"amount": 1000}', "--aggregate", "S-1"),
         "receipt_no"),
        (("member", "register", "--nik", "647201440390001", "--kk", "6472010101150001",
          "--name", "Siti", "--birth-date", "1990-03-04", "--desa", "6472021005"), "'nik'"),
        (("savings", "open", "--member", "M-1", "--product", "WAJIB", "--id", "S.1"),
         "account id 'S.1'"),
        (("stock", "receive", "GULA-1KG", "--qty", "5", "--supplier", "UD", "--doc", "SJ.1"),
         "'doc_no'"),
        (("sale", "record", "--line", "GULA-1KG:two:18500"), "--line"),
        (("sale", "record", "--line", "GULA-1KG:1:18500", "--pay", "gold:18500"), "--pay"),
        (("loan", "repay", "L-1", "--amount", "-5", "--receipt", "KW-9"), "'amount'"),
        (("member", "approve", "M-1", "--on", "2026-02-30"), "--on"),
        (("member", "change", "M-1", "--field", "nik", "--value", "64720144039000"), "(nik)"),
    ],
)  # fmt: skip
def test_invalid_input_is_refused_in_one_line_naming_the_field(
    store: Path, args: tuple[str, ...], names: str
) -> None:
    """Malformed options and payloads are refused in one `error:` line naming the field."""
    assert names in refused(store, *args)


def test_local_rules_refuse_through_the_cli(aid_store: Path) -> None:
    """Overdrawing, an unknown loan, a second redemption, negative stock, a mistyped member
    (opening savings, repaying member credit) and a price off the price list are refused."""
    d = aid_store
    founder = Pool(COOP, SEED).founder_id(0)
    assert "not registered" in refused(d, "savings", "open", "--member", "M-ffffffff",
                                       "--product", "SUKARELA")  # fmt: skip
    assert "not registered" in refused(d, "credit", "repay", "M-ffffffff", "--amount", "1000",
                                       "--receipt", "KW-9")  # fmt: skip
    assert "not registered" in refused(d, "credit", "show", "M-ffffffff")
    ok(d, "savings", "open", "--member", founder, "--product", "SUKARELA", "--id", "S-1")
    ok(d, "savings", "deposit", "S-1", "--amount", "50000", "--receipt", "KW-1")
    assert "balance" in refused(d, "savings", "withdraw", "S-1", "--amount", "50001",
                                "--receipt", "KW-2")  # fmt: skip
    assert "not known" in refused(d, "loan", "repay", "L-404", "--amount", "1000",
                                  "--receipt", "KW-3")  # fmt: skip
    ent = Pool(COOP, SEED).entitlements[1]
    ok(d, "aid", "redeem", ent.id, "--card", ent.card_uid)
    assert "already redeemed" in refused(d, "aid", "redeem", ent.id, "--card", ent.card_uid)
    line = refused(d, "sale", "record", "--line", "LPG-3KG:1")
    assert "--override-stock" in line
    sale = ok(d, "sale", "record", "--line", "LPG-3KG:1", "--override-stock",
              "tabung sudah di rak, penerimaan belum dicatat")  # fmt: skip
    with EdgeAgent(d) as agent:
        assert agent.view("stock:main:LPG-3KG") == {"on_hand": -1}
        entry = next(agent.log(sale["seq"] - 1))
        listed = agent.view("price:BERAS-5KG")
    assert entry.payload["stock_override_reason"].startswith("tabung")
    assert listed is not None
    off = f"BERAS-5KG:1:{listed['unit_price'] + 500}"
    assert "--override-price" in refused(d, "sale", "record", "--line", off,
                                         "--override-stock", "di rak")  # fmt: skip
    ok(d, "sale", "record", "--line", off, "--override-stock", "di rak",
       "--override-price", "harga lama di label")  # fmt: skip


def test_init_refuses_to_overwrite_an_existing_store(store: Path) -> None:
    """A second `edge init` on the same data directory is refused and keeps the old key."""
    key = (store / "device.key").read_text()
    line = refused(store, "init", "--coop", COOP, "--device", "kasir-1")
    assert "already exists" in line
    assert (store / "device.key").read_text() == key


def test_simulate_and_errors_through_a_real_process(tmp_path: Path) -> None:
    """The installed entry point simulates, verifies and reports errors in one line."""
    data = str(tmp_path / "kasir-2")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "kopsync", "edge", *args, "--data", data]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    assert run("init", "--coop", COOP, "--device", "kasir-2").returncode == 0
    sim = run("simulate", "--events", "300", "--seed", str(SEED), "--json")
    assert sim.returncode == 0, sim.stderr
    summary = json.loads(sim.stdout)
    assert summary["recorded"] == 300 and summary["last_seq"] == 300
    assert summary["reference_events"] > 0 and sum(summary["by_type"].values()) == 300
    assert json.loads(run("verify", "--json").stdout)["ok"] is True
    bad = run("savings", "withdraw", "S-none", "--amount", "1000", "--receipt", "KW-1")
    assert bad.returncode != 0
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr


def test_the_teller_api_has_a_function_for_every_edge_event_type() -> None:
    """`edge_agent.app.teller` names one function per edge event type, and each exists."""
    from edge_agent.app import teller

    assert set(teller.COMMANDS) == set(REGISTRY.types_from("edge"))
    assert all(callable(getattr(teller, name)) for name in teller.COMMANDS.values())
