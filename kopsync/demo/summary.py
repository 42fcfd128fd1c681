"""The demo's closing summary: per cooperative, what was recorded, synced and found.

``collect`` reads it from the devices and the central store's read models into plain data
(the ``--json`` output); ``render`` turns that into the text a person reads.
"""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from central_projector.reporting.reader import CentralReader
from edge_agent.app.agent import EdgeAgent
from kopsync.demo.scenario import Plan
from kopsync.devnats import nats_server_binary


def collect(
    plan: Plan,
    agents: dict[str, EdgeAgent],
    offline_rounds: dict[str, int],
    db: str,
    work: Path,
    partner_streams: dict[str, int],
) -> dict[str, Any]:
    with CentralReader(db) as reader:
        committed = {r["device_id"]: int(r["committed_seq"] or 0) for r in reader.device_status()}
        items = [i for i in reader.conflicts() if i["kind"]]
        aid = {c.coop_id: reader.show_coop(c.coop_id)["aid"] for c in plan.cooperatives}
        books = _books(reader, [c.coop_id for c in plan.cooperatives])
    coops = []
    for c in plan.cooperatives:
        devices = []
        for d in c.devices:
            status = agents[d].status()
            devices.append(
                {
                    "device_id": d,
                    "recorded": status["last_seq"],
                    "synced": status["confirmed_seq"],
                    "committed": committed.get(d, 0),
                    "offline_rounds": offline_rounds[d],
                    # its siblings' events it applied (the highest seq of each)
                    "siblings": sum(x["applied_seq"] for x in status["siblings"]),
                }
            )
        kinds = Counter(i["kind"] for i in items if i["coop_id"] == c.coop_id)
        ent = aid[c.coop_id]["entitlements"]
        coops.append(
            {
                "coop_id": c.coop_id,
                "name": c.name,
                "regency": c.regency,
                "regency_code": c.regency_code,
                "province": c.province,
                "devices": devices,
                "recorded": sum(d["recorded"] for d in devices),
                "synced": sum(d["synced"] for d in devices),
                "committed": sum(d["committed"] for d in devices),
                "siblings": sum(d["siblings"] for d in devices),
                "hub": any(d in plan.hub_devices for d in c.devices),
                "conflicts": dict(sorted(kinds.items())),
                "entitlements_redeemed": ent["redeemed"],
                "value_at_risk": ent["value_at_risk"],
            }
        )
    found = Counter(i["kind"] for i in items)
    seen = {(i["kind"], i["subject"]): i["id"] for i in items}
    planned = [
        {
            "kind": p.kind,
            "coop_id": p.coop_id,
            "subject": p.subject,
            "story": p.story,
            "conflict_id": seen.get((p.kind, p.subject)),
            "found": (p.kind, p.subject) in seen,
        }
        for p in plan.planned
    ]
    return {
        "work_dir": str(work),
        "db": db,
        "cooperatives": coops,
        "totals": {
            "devices": len(agents),
            "recorded": sum(c["recorded"] for c in coops),
            "synced": sum(c["synced"] for c in coops),
            "committed": sum(c["committed"] for c in coops),
            "conflicts": dict(sorted(found.items())),
        },
        "planned_conflicts": planned,
        **books,
        "card_wallets": [
            {"coop_id": coop, **card} for coop, a in aid.items() for card in a["cards"]["overspent"]
        ],
        "at_risk": {
            k: sum(a["at_risk"][k] for a in aid.values())
            for k in ("duplicate_redemptions", "card_overspend", "total")
        },
        "partner_streams": partner_streams,
        "commands": commands(plan, work, db, books["rat"]["year"], books["rat"]["coop_id"]),
    }


LATE_AFTER_DAYS = 90  # the loan book this long after the last business day: some loans late


def _books(reader: CentralReader, coop_ids: list[str]) -> dict[str, Any]:
    """The loan book, on a date that makes its open loans late, of the cooperative lending
    the most, and its RAT basis for the fiscal year of its last business day."""
    books = []
    for coop_id in coop_ids:
        last = reader.show_coop(coop_id)["as_of"]
        late_on = (dt.date.fromisoformat(last) + dt.timedelta(days=LATE_AFTER_DAYS)).isoformat()
        book = reader.show_coop(coop_id, late_on)["loans"]["portfolio"]
        books.append((book["outstanding_principal"], coop_id, last, book))
    _, coop_id, last, book = max(books)
    keys = ("as_of", "loans", "running", "outstanding_principal", "principal_in_arrears",
            "arrears_buckets", "par30", "par30_bp", "written_off", "recovered")  # fmt: skip
    basis = reader.rat(coop_id, int(last[:4]))
    return {
        "loan_book": {"coop_id": coop_id, **{k: book[k] for k in keys}},
        "rat": {k: v for k, v in basis.items() if k != "members"}
        | {"members_taking_part": len(basis["members"])},
    }


def _kopsync() -> str:
    """The ``kopsync`` beside this Python (``.venv/bin/kopsync`` after the README's install)."""
    here = Path(sys.executable).parent / "kopsync"
    return str(here) if here.exists() else "kopsync"


def commands(plan: Plan, work: Path, db: str, year: int, rat_coop: str) -> list[str]:
    """What to run next; ``rat_coop``: the cooperative whose RAT basis the summary shows."""
    first = plan.cooperatives[1].coop_id  # Lempake: the written-off loan
    kopsync = _kopsync()
    return [
        f"{kopsync} central show coop {first} --db {db}",
        f"{kopsync} central conflicts --db {db}",
        f"{kopsync} central report rat --coop {rat_coop} --year {year} --db {db}",
        f"{kopsync} central status --db {db}",
        f"{kopsync} edge log --data {work / 'devices' / 'lmp-simpan-pinjam'} --since 1",
        f"{nats_server_binary()} -c {work / 'nats-server.conf'} -js -sd {work / 'jetstream'} "
        "-p 4333 &",
        f"{kopsync} partner tail --nats tls://127.0.0.1:4333 --tls-ca {work / 'tls/ca/ca.crt'} "
        "--filter 'kop.partner.bank-kalteng.>' --since 30d --idle-exit 2",
    ]


def _siblings(c: dict[str, Any]) -> list[str]:
    if len(c["devices"]) < 2:
        return []
    how = "through the province and the hub on site" if c["hub"] else "through the province"
    return [f"  siblings: {_n(c['siblings'])} events of the other counters applied ({how})"]


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


NOTE = (
    "Paser Belengkong, Lempake and Sindu Batu Raja are the programme's own cooperatives; the "
    "others are named after real villages of their regencies. Region codes are the Ministry of "
    "Home Affairs'; the 10-digit village codes are made up within their regencies."
)


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counts.items()) or "none"


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 96, initial_indent=indent, subsequent_indent=indent + "  ")


def _rp(amount: int) -> str:
    return f"{'-' if amount < 0 else ''}Rp{_n(abs(amount))}"


def _book_lines(s: dict[str, Any]) -> list[str]:
    b, r, risk = s["loan_book"], s["rat"], s["at_risk"]
    buckets = ", ".join(f"{k} {_rp(v)}" for k, v in b["arrears_buckets"].items())
    lines = [
        f"Loan book of {b['coop_id']} as of {b['as_of']} ({LATE_AFTER_DAYS} days after its last "
        "business day):",
        f"  {b['running']} running of {b['loans']} loans, outstanding principal "
        f"{_rp(b['outstanding_principal'])}, PAR30 {_rp(b['par30'])} "
        f"({b['par30_bp'] / 100:.2f} %), written off {_rp(b['written_off'])}, "
        f"recovered {_rp(b['recovered'])}",
        *_wrapped(f"arrears: {buckets}", "  "),
        f"KHBS card wallets: {len(s['card_wallets'])} overspent; at risk "
        f"{_rp(risk['total'])} ({_rp(risk['duplicate_redemptions'])} redeemed twice, "
        f"{_rp(risk['card_overspend'])} beyond a card's value)",
    ]
    for c in s["card_wallets"]:
        lines.append(
            f"  card {c['card_uid']} ({c['coop_id']}): {_rp(c['credited'])} credited, "
            f"{_rp(c['spent'])} spent, {_rp(c['overspend'])} over ({', '.join(c['debits'])})"
        )
    lines += [
        f"RAT {r['year']} basis of {r['coop_id']}: revenue {_rp(r['revenue'])}, cost of goods "
        f"sold {_rp(r['cost_of_goods_sold'])}, margin {_rp(r['gross_margin'])}, interest "
        f"{_rp(r['interest_income'])}, expenses {_rp(r['expenses_recorded'])}, SHU "
        f"{_rp(r['shu'])}",
        f"  member credit: {_rp(r['credit_sold'])} sold on credit, {_rp(r['credit_repaid'])} "
        f"repaid in the year; {_rp(r['receivables_outstanding'])} owed by members at its end",
        *_wrapped(
            "SHU allocation: "
            + ", ".join(f"{k} {_rp(v)}" for k, v in r["allocation"].items())
            + f"; {r['members_taking_part']} members taking part",
            "  ",
        ),
    ]
    return lines


def render(s: dict[str, Any], seconds: float) -> str:
    lines = ["", "Summary", *_wrapped(NOTE, ""), ""]
    for c in s["cooperatives"]:
        devices = ", ".join(
            d["device_id"] + (f" (offline {d['offline_rounds']}x)" if d["offline_rounds"] else "")
            for d in c["devices"]
        )
        lines += [
            f"{c['name']}  {c['coop_id']}, {c['regency']} {c['regency_code']}, {c['province']}",
            *_wrapped(f"devices: {devices}", "  "),
            f"  events: {_n(c['recorded'])} recorded, {_n(c['synced'])} synced, "
            f"{_n(c['committed'])} committed centrally",
            *_siblings(c),
            *_wrapped(f"conflicts: {_kinds(c['conflicts'])}", "  "),
        ]
    t = s["totals"]
    lines += [
        f"Total: {len(s['cooperatives'])} cooperatives, {t['devices']} devices, "
        f"{_n(t['recorded'])} events recorded, {_n(t['synced'])} synced, "
        f"{_n(t['committed'])} committed",
        *_wrapped(f"conflicts: {_kinds(t['conflicts'])}", "  "),
        "",
        "Staged offline conflicts:",
    ]
    for p in s["planned_conflicts"]:
        mark = "found" if p["found"] else "NOT FOUND"
        lines += _wrapped(f"{p['kind']} {mark} ({p['conflict_id']}): {p['story']}", "  ")
    lines += ["", *_book_lines(s)]
    lines += ["", "Partner topics (NIK and KK as keyed pseudonyms; names and phones removed):"]
    for stream, n in s["partner_streams"].items():
        lines.append(f"  {stream:<25} {_n(n)} messages")
    lines += ["", f"Done in {seconds:.0f} s. Data kept in {s['work_dir']}; look further with:"]
    lines += [f"  {c}" for c in s["commands"]]
    return "\n".join(lines)
