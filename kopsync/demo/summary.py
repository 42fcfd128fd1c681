"""The demo's closing summary: per cooperative, what was recorded, synced and found.

``collect`` reads it from the devices and the central store's read models into plain data
(the ``--json`` output); ``render`` turns that into the text a person reads.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from central_projector.projector import Projector
from central_projector.readmodels import queries
from central_projector.store import CentralStore
from edge_agent.agent import EdgeAgent
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
    with CentralStore(db) as store:
        committed = {r["device_id"]: int(r["committed_seq"] or 0) for r in store.device_status()}
    with Projector(db) as projector, projector.engine.connect() as conn:
        items = [i for i in queries.conflicts(conn) if i["kind"]]
        aid = {c.coop_id: queries.show_coop(conn, c.coop_id)["aid"] for c in plan.cooperatives}
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
        "partner_streams": partner_streams,
        "commands": commands(plan, work, db),
    }


def commands(plan: Plan, work: Path, db: str) -> list[str]:
    first = plan.cooperatives[1].coop_id  # Lempake: the written-off loan
    return [
        f"kopsync central show coop {first} --db {db}",
        f"kopsync central conflicts --db {db}",
        f"kopsync central status --db {db}",
        f"kopsync edge log --data {work / 'devices' / 'lmp-simpan-pinjam'} --since 1",
        f"{nats_server_binary()} -js -sd {work / 'jetstream'} -p 4333 &",
        "kopsync partner tail --nats nats://127.0.0.1:4333 "
        "--filter 'kop.partner.bank-kalteng.>' --since 24h",
    ]


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def render(s: dict[str, Any], seconds: float) -> str:
    lines = [
        "",
        "Summary. Paser Belengkong, Lempake and Sindu Batu Raja are the programme's own "
        "cooperatives; the others are named after real villages of their regencies. Region "
        "codes are the Ministry of Home Affairs'; the 10-digit village codes are made up within "
        "their regencies.",
        "",
    ]
    lines.append(
        f"{'cooperative':<50} {'regency':<24} {'dev':>3} {'recorded':>9} {'synced':>7} "
        f"{'committed':>9}  conflicts"
    )
    for c in s["cooperatives"]:
        kinds = ", ".join(f"{k} {n}" for k, n in c["conflicts"].items()) or "none"
        lines.append(
            f"{c['name'][:50]:<50} {c['regency'] + ' ' + c['regency_code']:<24} "
            f"{len(c['devices']):>3} {_n(c['recorded']):>9} {_n(c['synced']):>7} "
            f"{_n(c['committed']):>9}  {kinds}"
        )
        lines.append(f"{'  ' + c['coop_id']:<50} {c['province']}")
    t = s["totals"]
    lines.append(
        f"{'total':<50} {'':<24} {t['devices']:>3} {_n(t['recorded']):>9} {_n(t['synced']):>7} "
        f"{_n(t['committed']):>9}  " + ", ".join(f"{k} {n}" for k, n in t["conflicts"].items())
    )
    lines += ["", "Planned offline conflicts:"]
    for p in s["planned_conflicts"]:
        mark = "found" if p["found"] else "NOT FOUND"
        lines.append(f"  {p['kind']:<25} {mark:<9} {p['story']} ({p['conflict_id']})")
    lines += ["", "Partner topics (NIK and KK as keyed pseudonyms; names and phones removed):"]
    for stream, n in s["partner_streams"].items():
        lines.append(f"  {stream:<25} {_n(n)} messages")
    lines += ["", f"Done in {seconds:.0f} s. Data kept in {s['work_dir']}; look further with:"]
    lines += [f"  {c}" for c in s["commands"]]
    return "\n".join(lines)
