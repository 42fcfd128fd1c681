"""``kopsync central report`` and ``export``: roll-ups by region and date, and exports.

``report --region CODE`` sums the read models of a province (2 digits), regency (4),
district (6), village (10) or one cooperative (its id), as of a date, as a table, JSON or
CSV; ``export COOP`` writes one cooperative's tables for the ministry.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from central_projector.reporting import exports, ministry, rat, rollups
from central_projector.reporting.formats import figure
from central_projector.reporting.reader import reading
from central_projector.reporting.regions import check_date, local_time, parse_region
from kopsync.cli.central.project import db_option
from kopsync.cli.common import emit_json, friendly
from sync_core import localtime
from sync_core.errors import UsageError
from sync_core.ids import check_coop_id

silent_days_option = click.option(
    "--silent-days",
    type=click.IntRange(1, 3650),
    default=rollups.SILENT_DAYS,
    show_default=True,
    help="A device is silent after this many days unheard.",
)
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Date YYYY-MM-DD the dated figures are evaluated at (the loan book; sales up to it); "
    "default: today in the region's zone (every sale counts).",
)
FORMATS = click.Choice(["table", "json", "csv"])


@click.group(invoke_without_command=True)
@click.option("--region", default=None, help="Region code: 62, 6202, 620208, 6202081007, or a "
              "cooperative id.")  # fmt: skip
@as_of_option
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--section", default=None, help=f"Only one part: {', '.join(rollups.SECTIONS)}.")
@silent_days_option
@db_option
@click.pass_context
@friendly
def report(
    ctx: click.Context,
    region: str | None,
    as_of: str | None,
    fmt: str,
    as_json: bool,
    section: str | None,
    silent_days: int,
    db_url: str,
) -> None:
    """Roll up a region's cooperatives: members, savings, loans, aid, fund, shop, sync health.

    Each figure of a province or regency is the sum of its cooperatives' own; the
    breakdown lists the regencies of a province, else the cooperatives.
    """
    if ctx.invoked_subcommand is not None:
        return
    if region is None:
        raise UsageError("--region is required, e.g. `kopsync central report --region 62`")
    where = parse_region(region)
    day = check_date(as_of) if as_of else None
    exports.check_section(section)
    with reading(db_url) as conn:
        result = rollups.rollup(conn, where, day, silent_days=silent_days)
    fmt = "json" if as_json else fmt
    if fmt == "json":
        emit_json(exports.rollup_json(result, section))
    elif fmt == "csv":
        click.echo(exports.to_csv(exports.rollup_rows(result, section)), nl=False)
    else:
        click.echo(_table(result, section))


def _table(r: dict[str, Any], section: str | None) -> str:
    name = f" {r['name']}" if r["name"] != r["region"] else ""
    lines = [
        f"{r['level'].capitalize()} {r['region']}{name}: {r['cooperatives']} cooperatives, "
        f"as of {r['as_of']} ({r['zone']})"
    ]
    for path, value in exports.flatten(exports.only(r["figures"], section)).items():
        shown = local_time(value, r["region"]) if path.endswith("last_seen") and value else None
        lines.append(f"  {path:<48} {shown or figure(path, value):>22}")
    if r["children"]:
        lines.append("")
        head = ("region", "coops", "members", "savings", "outstanding", "PAR30", "redeemed",
                "silent", "open conflicts")  # fmt: skip
        lines.append("  ".join(f"{h:>16}" for h in head))
        for c in r["children"]:
            f = c["figures"]
            cells = (
                c["region"],
                figure("n", c["cooperatives"]),
                figure("n", f["members"]["count"]),
                figure("balance", f["savings"]["balance"]),
                figure("outstanding_principal", f["loans"]["outstanding_principal"]),
                figure("par30_bp", f["loans"]["par30_bp"]),
                figure("redeemed_value", f["aid"]["redeemed_value"]),
                figure("n", f["sync"]["silent"]),
                figure("n", f["sync"]["open_conflicts"]),
            )
            lines.append("  ".join(f"{x:>16}" for x in cells))
    return "\n".join(lines)


@click.command()
@click.argument("coop_id")
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)  # fmt: skip
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON: a file (default stdout). CSV: a directory, one file per table.",
)
@db_option
@friendly
def export(coop_id: str, as_of: str | None, fmt: str, out: Path | None, db_url: str) -> None:
    """One cooperative's data for the ministry: members, savings, loans, member credit and
    business units.

    Tables and fields: docs/EXPORTS.md. Names, NIK, KK and phone numbers are not exported.
    """
    check_coop_id(coop_id)
    day = check_date(as_of) if as_of else None
    if fmt == "csv" and out is None:
        raise UsageError("--format csv writes one file per table: give --out DIRECTORY")
    now = int(time.time() * 1000)
    with reading(db_url) as conn:
        region = parse_region(coop_id)
        day = day or localtime.today(region.code, now)
        tables = ministry.coop_export(conn, coop_id, day, now)
    if not tables["members"] and not tables["cooperative"][0]["events"]:
        raise UsageError(
            f"no events of cooperative {coop_id} are projected; check the id, "
            "or run `kopsync central project --once` first"
        )
    if fmt == "json":
        text = json.dumps(tables, ensure_ascii=False, sort_keys=True)
        if out is None:
            click.echo(text)
        else:
            out.write_text(text + "\n", encoding="utf-8")
            click.echo(f"wrote {out}")
        return
    assert out is not None
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        (out / f"{name}.csv").write_text(exports.to_csv(rows) if rows else "", encoding="utf-8")
    click.echo(f"wrote {len(tables)} tables to {out}")


def _shares(values: tuple[str, ...]) -> dict[str, int]:
    shares = dict(rat.DEFAULT_SHARES) if not values else {}
    for value in values:
        name, _, pct = value.partition("=")
        if name not in rat.DEFAULT_SHARES or not pct.isdigit():
            raise UsageError(
                f"--share '{value}' is not NAME=PERCENT with NAME one of "
                f"{', '.join(rat.DEFAULT_SHARES)}"
            )
        shares[name] = int(pct)
    return rat.check_shares(shares)


@report.command("rat")
@click.option("--coop", "coop_id", required=True, help="The cooperative's id.")
@click.option("--year", type=click.IntRange(2000, 2999), required=True, help="Fiscal year.")
@click.option(
    "--share",
    "shares",
    multiple=True,
    metavar="NAME=PERCENT",
    help="The statute's SHU shares (default: reserve=40 jasa_usaha=25 jasa_modal=20 "
    "management=5 education=5 social=5); give all of them, adding up to 100.",
)
@click.option("--json", "as_json", is_flag=True, help="The basis as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="The members' participation as CSV.")
@db_option
@friendly
def rat_report(
    coop_id: str, year: int, shares: tuple[str, ...], as_json: bool, as_csv: bool, db_url: str
) -> None:
    """The RAT basis of one cooperative and fiscal year: revenue, cost of goods sold, margin,
    interest income, expenses, member credit (receivables at the year's end), SHU and its
    allocation, each member's participation (purchases, of them on member credit, credit
    still owed at the year's end, savings, SHU shares)."""
    check_coop_id(coop_id)
    statute = _shares(shares)
    with reading(db_url) as conn:
        basis = rat.coop_rat(conn, coop_id, year, statute)
    if not basis["revenue"] and not basis["members"] and not basis["interest_income"]:
        raise UsageError(
            f"nothing of cooperative {coop_id} falls in {year}; check the id and year, "
            "or run `kopsync central project --once` first"
        )
    if as_json:
        emit_json(basis)
    elif as_csv:
        click.echo(exports.to_csv(basis["members"]), nl=False)
    else:
        click.echo(rat_table(basis))


MEMBER_COLUMNS = ("purchases", "credit_bought", "credit_outstanding", "savings", "jasa_usaha",
                  "jasa_modal")  # fmt: skip


def rat_table(b: dict[str, Any]) -> str:
    """The RAT basis as lines for people."""
    lines = [f"RAT {b['year']} of cooperative {b['coop_id']}"]
    for name in ("revenue", "cost_of_goods_sold", "gross_margin", "interest_income",
                 "expenses_recorded", "shu"):  # fmt: skip
        lines.append(f"  {name:<24} {figure('amount', b[name]):>18}")
    if b["uncosted"]:
        lines.append(f"  sold without a received cost: {', '.join(b['uncosted'])}")
    lines.append("  member credit (piutang anggota):")
    for name in ("credit_sold", "credit_repaid", "receivables_outstanding", "credit_overpaid"):
        lines.append(f"    {name:<22}       {figure('amount', b[name]):>18}")
    lines.append("  SHU allocation:")
    for name, amount in b["allocation"].items():
        lines.append(f"    {name:<22} {b['shares'][name]:>3} %  {figure('amount', amount):>18}")
    lines.append(f"  members taking part: {len(b['members'])}")
    if b["members"]:
        width = max(9, *(len(m["member_id"]) for m in b["members"]))
        lines.append(f"    {'member_id':<{width}}" + "".join(f" {c:>18}" for c in MEMBER_COLUMNS))
        for m in b["members"]:
            cells = "".join(f" {figure('amount', m[c]):>18}" for c in MEMBER_COLUMNS)
            lines.append(f"    {m['member_id']:<{width}}{cells}")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    """Add ``report`` (a group: other reports join it as subcommands) and ``export``."""
    group.add_command(report)
    group.add_command(export)
