"""`kopsync central report` and `export` on a real projected store: formats, dates, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from support import province as P
from support.projector_db import deliver

from central_projector.projection.folds import Event
from central_projector.projection.projector import Projector
from central_projector.record.tables import events
from kopsync.cli.main import cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    P.seed(url)
    return url


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_json_csv_and_table_give_the_same_province_figures(store: str) -> None:
    """The JSON roll-up, its CSV row and the table show the same sums for province 62."""
    code, out, _ = _run("central", "report", "--region", "62", "--db", store, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["cooperatives"] == 2
    assert [c["region"] for c in report["children"]] == ["6202", "6271"]
    assert report["figures"]["savings"]["balance"] == 2 * 1_234_567
    assert report["figures"]["aid"]["disputed"] == 1
    code, out, _ = _run("central", "report", "--region", "62", "--db", store, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["region"] for r in rows] == ["62", "6202", "6271"]
    assert int(rows[0]["savings.balance"]) == 2 * 1_234_567
    assert int(rows[0]["sync.open_conflicts"]) == 1
    code, out, _ = _run("central", "report", "--region", "62", "--db", store)
    assert "Rp2.469.134" in out and "Kalimantan Tengah" in out


def test_as_of_moves_arrears_into_buckets(store: str) -> None:
    """Three months after the first due date, the unpaid instalments put the loan in PAR30."""
    args = ("central", "report", "--region", P.PASER, "--db", store, "--json")
    now = json.loads(_run(*args, "--as-of", "2026-02-01")[1])["figures"]["loans"]
    later = json.loads(_run(*args, "--as-of", "2026-05-15")[1])["figures"]["loans"]
    assert now["par30_bp"] == 0 and now["outstanding_principal"] > 0
    assert later["par30"] == later["outstanding_principal"] > 0
    assert later["par30_bp"] == 10_000


def test_section_narrows_json_and_csv(store: str) -> None:
    """--section keeps one part of the figures in both formats."""
    args = ("central", "report", "--region", "64", "--db", store, "--section", "loans")
    figures = json.loads(_run(*args, "--json")[1])["figures"]
    assert list(figures) == ["loans"]
    header = _run(*args, "--format", "csv")[1].splitlines()[0].split(",")
    assert all(h.startswith("loans.") for h in header[4:])


def test_ministry_export_json_and_csv(store: str, tmp_path: Path) -> None:
    """The per-cooperative export has every table, no names or NIK, and CSV files per table."""
    code, out, _ = _run("central", "export", P.PASER, "--db", store)
    assert code == 0
    tables = json.loads(out)
    assert set(tables) == {"cooperative", "members", "savings", "loans", "receivables", "sales",
                           "stock", "aid", "stimulus"}  # fmt: skip
    assert tables["receivables"] == []  # nothing sold on member credit at Paser
    assert tables["members"][0]["status"] == "APPROVED"
    assert "Siti" not in out and "0101900001" not in out
    assert tables["stimulus"][0]["disbursed"] == 100_000_000
    code, out, _ = _run("central", "export", P.PASER, "--db", store, "--format", "csv",
                        "--out", str(tmp_path / "x"))  # fmt: skip
    assert code == 0
    loans = list(csv.DictReader((tmp_path / "x" / "loans.csv").open()))
    assert loans[0]["loan_id"] == f"L-{P.PASER}"


def _member_credit(url: str) -> None:
    """Paser's member buys Rp145.000 on credit on 10 January 2026 (local day) and repays
    Rp45.000 on 2 February and Rp120.000 on 3 March (Rp20.000 beyond her debt)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        till = conn.execute(
            sa.select(sa.func.max(events.c.seq)).where(events.c.device_id == "pb-kasir-1")
        ).scalar_one()
    t = P.T0 + 9 * 86_400_000
    member = f"M-{P.PASER}"
    sale = {"lines": [{"sku": "BERAS-5KG", "qty": 2, "unit_price": 72_500}],
            "payments": [{"method": "member_credit", "amount": 145_000}],
            "location": "main", "member_id": member}  # fmt: skip
    facts = [("SaleRecorded", "SL-PB-KREDIT", sale),
             ("MemberCreditRepaid", member, {"amount": 45_000, "paid_on": "2026-02-02",
                                             "receipt_no": "KW-K1"}),
             ("MemberCreditRepaid", member, {"amount": 120_000, "paid_on": "2026-03-03",
                                             "receipt_no": "KW-K2"})]  # fmt: skip
    deliver(engine, [
        Event((t + n, 0, "pb-kasir-1", till + n), f"pb-kasir-1-{till + n}", P.PASER, kind, agg,
              payload, t + n + 10)
        for n, (kind, agg, payload) in enumerate(facts, start=1)
    ], set())  # fmt: skip
    engine.dispose()
    with Projector(url) as projector:
        projector.run_once()


def test_ministry_export_receivables_as_of_its_date(store: str, tmp_path: Path) -> None:
    """The export's receivables are the member credit dated by its date: nothing before the
    sale, Rp145.000 owed after it, Rp100.000 after the first repayment, Rp20.000 overpaid
    after the second (as the roll-up's net figure says); the CSV file has the same row."""
    _member_credit(store)
    member = f"M-{P.PASER}"

    def receivables(day: str) -> list[dict[str, object]]:
        code, out, err = _run("central", "export", P.PASER, "--as-of", day, "--db", store)
        assert code == 0, err
        return list(json.loads(out)["receivables"])

    assert receivables("2026-01-09") == []
    row = {"member_id": member, "sold": 145_000, "sales": 1, "repaid": 0, "repayments": 0,
           "outstanding": 145_000, "overpaid": 0}  # fmt: skip
    assert receivables("2026-01-10") == [row]
    row |= {"repaid": 45_000, "repayments": 1, "outstanding": 100_000}
    assert receivables("2026-03-02") == [row]
    rollup = ("central", "report", "--region", P.PASER, "--format", "json", "--db", store)
    shop = json.loads(_run(*rollup, "--as-of", "2026-03-02")[1])["figures"]["shop"]
    assert shop["credit_outstanding"] == row["outstanding"]  # the roll-up agrees
    row |= {"repaid": 165_000, "repayments": 2, "outstanding": 0, "overpaid": 20_000}
    assert receivables("2026-12-31") == [row]
    shop = json.loads(_run(*rollup, "--as-of", "2026-12-31")[1])["figures"]["shop"]
    assert shop["credit_outstanding"] == -row["overpaid"]
    code, _, _ = _run("central", "export", P.PASER, "--as-of", "2026-12-31", "--db", store,
                      "--format", "csv", "--out", str(tmp_path / "x"))  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "x" / "receivables.csv").open()))
    assert rows == [{k: str(v) for k, v in row.items()}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--region", "6"), "not a region code"),
        (("--region", "62", "--as-of", "2026-13-01"), "must be a date"),
        (("--region", "62", "--section", "nope"), "no section 'nope'"),
        ((), "--region is required"),
    ],
)
def test_bad_input_is_one_line(store: str, args: tuple[str, ...], message: str) -> None:
    """A wrong region, date or section is one `error:` line and a non-zero exit."""
    code, _, err = _run("central", "report", "--db", store, *args)
    assert code != 0 and err.startswith("error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    """Reading a store that does not exist says so and leaves no file behind."""
    db = tmp_path / "none.db"
    code, _, err = _run("central", "report", "--region", "62", "--db", f"sqlite:///{db}")
    assert code != 0 and "no central store" in err
    assert not db.exists()


def test_rat_basis_of_one_cooperative_in_every_format(store: str) -> None:
    """`report rat`: Paser's 2026 sales Rp435.000 at Rp60.000 a sack, Rp12.000 of interest
    (Rp10.000 due, Rp2.000 of the next instalment paid early), SHU Rp87.000 divided by the
    statute; CSV of the members; one-line errors."""
    args = ("central", "report", "rat", "--coop", P.PASER, "--year", "2026", "--db", store)
    code, out, _ = _run(*args, "--json")
    assert code == 0
    b = json.loads(out)
    assert (b["revenue"], b["cost_of_goods_sold"], b["interest_income"], b["shu"]) == (
        435_000, 360_000, 12_000, 87_000
    )  # fmt: skip
    member = {"member_id": f"M-{P.PASER}", "purchases": 72_500, "credit_bought": 0,
              "credit_outstanding": 0, "savings": 1_234_567, "jasa_usaha": 21_750,
              "jasa_modal": 17_400}  # fmt: skip
    assert b["members"] == [member]
    rows = list(csv.DictReader(io.StringIO(_run(*args, "--csv")[1])))
    assert rows[0]["jasa_modal"] == "17400"
    code, out, _ = _run(*args)
    assert code == 0 and "Rp87.000" in out and "jasa_usaha" in out
    header, line = out.splitlines()[-2:]  # the members' list, one line each
    assert header.split() == ["member_id", "purchases", "credit_bought", "credit_outstanding",
                              "savings", "jasa_usaha", "jasa_modal"]  # fmt: skip
    assert line.split() == [f"M-{P.PASER}", "Rp72.500", "Rp0", "Rp0", "Rp1.234.567",
                            "Rp21.750", "Rp17.400"]  # fmt: skip
    assert b["receivables_outstanding"] == 0 and "receivables_outstanding" in out
    shares = ("--share", "reserve=50", "--share", "jasa_usaha=50")
    assert json.loads(_run(*args, *shares, "--json")[1])["allocation"]["jasa_usaha"] == 43_500
    code, _, err = _run(*args, "--share", "reserve=90")
    assert code != 0 and err.count("\n") == 1 and "100" in err
    code, _, err = _run("central", "report", "rat", "--coop", "6401059999", "--year", "2026",
                        "--db", store)  # fmt: skip
    assert code != 0 and err.startswith("error:") and err.count("\n") == 1
