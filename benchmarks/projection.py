"""Projection benchmark: events/s into the read models on SQLite and PostgreSQL, a full
replay on SQLite, and the write floor (a bulk ``executemany`` insert of as many rows).

The workload is a realistic mix over many cooperatives (weights after the edge
simulator: sales, savings, loans, stock, redemptions, members, fund, shipments) plus the
province's reference data (entitlements, cards, allowances, the stimulus fund), with
devices uploading in chunks after being offline, so each projection batch meets late
arrivals and order-dependent aggregates re-derive. Events are written straight into
the central store's ``events`` table as committed rows (envelopes carry the payload;
nothing is signed: ingest is not what is measured here).

    python benchmarks/projection.py [--quick] [--full] [--out FILE] [--pg URL]
                                    [--only sqlite,postgres,replay]

``--quick`` (within a minute): 100,000 events per rate and a 200,000-event replay;
default: 200,000 and 1,000,000; ``--full`` adds nothing but says so. PostgreSQL is taken
from ``--pg`` or $KOPSYNC_TEST_POSTGRES_URL (else the local default), skipped when
unreachable. ``--only`` (repeatable, or a comma list) runs just the parts named: ``sqlite``
(its floor and rate), ``postgres`` (its floor and rate), ``replay``. Prints one JSON
object, then a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.projection.projector import DEFAULT_BATCH, Projector
from central_projector.record.dbengine import make_engine
from central_projector.record.tables import events
from central_projector.record.tables import metadata as store_metadata
from schemas import REGISTRY

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HASH = b"\x00" * 32
T0 = 1_767_225_600_000
SKUS = [f"SKU-{i:02d}" for i in range(24)]
LOCATIONS = ("main", "main", "main", "gudang")  # most goods arrive at the shop itself
FAMILIES = 40
PROGRAMS = ("SEMBAKO", "BERAS")
WEIGHTS = {
    "SaleRecorded": 230,
    "SavingsDeposited": 145,
    "SavingsWithdrawn": 30,
    "SavingsAccountOpened": 40,
    "MemberRegistered": 30,
    "MembershipApproved": 25,
    "MemberProfileFieldChanged": 15,
    "LoanRepaymentReceived": 60,
    "LoanApplied": 12,
    "LoanApproved": 12,
    "LoanDisbursed": 12,
    "StockReceived": 25,
    "StockAdjusted": 6,
    "StockCounted": 10,
    "ShipmentDispatched": 12,
    "ShipmentReceived": 12,
    "AidRedeemed": 70,
    "AidRedemptionVoided": 3,
    "StimulusFundUtilized": 8,
    "StimulusRevolvingRepaymentMade": 12,
    "PriceSet": 5,
    "SaleVoided": 6,
}


class Workload:
    """A deterministic stream of store rows for ``coops`` cooperatives of 3 devices each."""

    def __init__(self, coops: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.coops = [f"64{i // 100:02d}{i % 100:02d}{2001 + i:04d}" for i in range(coops)]
        self.types = list(WEIGHTS)
        self.weights = list(WEIGHTS.values())
        self.versions = {t: REGISTRY.latest_version(t) for t in REGISTRY.types}
        self.seq: dict[str, int] = {}
        self.wall: dict[str, int] = {}
        self.state: dict[str, dict[str, list[str]]] = {}

    def _row(
        self, coop: str, device: str, type_: str, agg: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        seq = self.seq.get(device, 0) + 1
        self.seq[device] = seq
        wall = self.wall.get(device, T0) + self.rng.randint(200, 40_000)
        self.wall[device] = wall
        event_id = f"{device}-{seq}"
        env = msgpack.packb({"event_id": event_id, "payload": payload})
        return {
            "device_id": device,
            "seq": seq,
            "event_id": event_id,
            "coop_id": coop,
            "type": type_,
            "version": self.versions[type_],
            "aggregate_id": agg,
            "hlc_wall": wall,
            "hlc_counter": 0,
            "prev_hash": HASH,
            "hash": HASH,
            "envelope": env,
            "received_at": wall + 1000,
            "status": "committed",
            "flags": "",
        }

    def reference(self, coop: str) -> list[dict[str, Any]]:
        """What the province issues a cooperative: fund, cards, entitlements, allowances."""
        dev = f"central-{coop}"
        out = [
            self._row(
                coop,
                dev,
                "StimulusFundAllocated",
                f"SF-{coop}",
                {"amount": 250_000_000, "program_year": 2026, "source": "APBD"},
            ),
            self._row(
                coop,
                dev,
                "StimulusTrancheDisbursed",
                f"SF-{coop}",
                {"amount": 150_000_000, "tranche_no": 1, "disbursed_on": "2026-01-05"},
            ),
        ]
        for fam in range(FAMILIES):
            card = f"K{coop}{fam:03d}"
            out.append(
                self._row(coop, dev, "CardIssued", card, {"beneficiary_id": f"B{coop}{fam}"})
            )
        self.state[coop] = {
            "fresh": [],
            "redeemed": [],
            "cycle": 0,
            "members": [],
            "accounts": [],
            "loans": [],
            "sales": [],
            "shipments": [],
            "redemptions": [],
            "niks": [],
        }
        return out + self.cycle(coop)

    def cycle(self, coop: str) -> list[dict[str, Any]]:
        """The next monthly aid cycle of a cooperative: an entitlement per family, allowances."""
        st, dev = self.state[coop], f"central-{coop}"
        st["cycle"] += 1
        cycle = f"{2026 + (st['cycle'] - 1) // 12}-{(st['cycle'] - 1) % 12 + 1:02d}"
        out = []
        for fam in range(FAMILIES):
            program, card = PROGRAMS[fam % 2], f"K{coop}{fam:03d}"
            eid = f"E{coop}{fam:03d}{cycle.replace('-', '')}"
            st["fresh"].append((eid, card, program, cycle))
            payload = {"beneficiary_id": f"B{coop}{fam}", "card_uid": card, "program": program,
                       "cycle": cycle, "value": 200_000}  # fmt: skip
            out.append(self._row(coop, dev, "EntitlementGranted", eid, payload))
        for program in PROGRAMS:
            n = FAMILIES // len(PROGRAMS)
            payload = {"scope": "COOP", "program": program, "cycle": cycle, "max_count": n,
                       "max_value": n * 200_000}  # fmt: skip
            aid = f"A{coop}{program}{cycle.replace('-', '')}"
            out.append(self._row(coop, dev, "RedemptionAllowanceAllocated", aid, payload))
        self.rng.shuffle(st["fresh"])
        return out

    def edge(self, coop: str, device: str) -> dict[str, Any]:
        """One edge event of a realistic mix."""
        r, st = self.rng, self.state[coop]
        t = r.choices(self.types, self.weights)[0]
        n = self.seq.get(device, 0) + 1
        day = f"2026-01-{1 + (n // 300) % 28:02d}"
        if t == "SaleRecorded":
            lines = [
                {"sku": r.choice(SKUS), "qty": r.randint(1, 3), "unit_price": 15_000}
                for _ in range(r.choice((1, 1, 2, 3)))
            ]
            total = sum(x["qty"] * x["unit_price"] for x in lines)
            sid = f"SL-{device}-{n}"
            st["sales"].append(sid)
            p: dict[str, Any] = {"lines": lines, "payments": [{"method": "cash", "amount": total}]}
            if r.random() < 0.12:
                fam = r.randrange(40)
                p = {
                    "lines": lines,
                    "payments": [{"method": "khbs", "amount": total}],
                    "card_uid": f"K{coop}{fam:03d}",
                }
            return self._row(coop, device, t, sid, p)
        if t == "SaleVoided" and st["sales"]:
            return self._row(coop, device, t, st["sales"][-1], {"reason": "batal"})
        if t == "MemberRegistered" or not st["members"]:
            mid = f"M-{device}-{n}"
            st["members"].append(mid)
            nik = f"6401{r.randrange(10**11, 10**12):012d}"
            if r.random() < 0.05 and st["niks"]:  # the same person at another counter
                nik = r.choice(st["niks"])
            st["niks"].append(nik)
            return self._row(
                coop,
                device,
                "MemberRegistered",
                mid,
                {
                    "nik": nik,
                    "kk_no": "6401010101900099",
                    "name": "Siti Aminah",
                    "birth_date": "1990-01-01",
                    "desa_code": "6401050012",
                },
            )
        member = r.choice(st["members"][-200:])
        if t == "MembershipApproved":
            return self._row(coop, device, t, member, {"approved_on": day})
        if t == "MemberProfileFieldChanged":
            return self._row(coop, device, t, member, {"field": "phone", "value": f"+62812{n}"})
        if t == "SavingsAccountOpened" or not st["accounts"]:
            aid = f"S-{device}-{n}"
            st["accounts"].append(aid)
            return self._row(
                coop,
                device,
                "SavingsAccountOpened",
                aid,
                {"member_id": member, "product": "SUKARELA", "opened_on": day},
            )
        if t in ("SavingsDeposited", "SavingsWithdrawn"):
            return self._row(
                coop,
                device,
                t,
                r.choice(st["accounts"][-300:]),
                {"amount": r.choice((10_000, 25_000, 100_000)), "receipt_no": f"KW{n}"},
            )
        if t == "LoanApplied" or not st["loans"]:
            lid = f"L-{device}-{n}"
            st["loans"].append(lid)
            return self._row(
                coop,
                device,
                "LoanApplied",
                lid,
                {
                    "member_id": member,
                    "amount_requested": 2_000_000,
                    "purpose": "modal",
                    "tenor_months": 12,
                },
            )
        loan = r.choice(st["loans"][-60:])
        if t == "LoanApproved":
            return self._row(
                coop,
                device,
                t,
                loan,
                {
                    "principal": 2_000_000,
                    "rate_bp": 1500,
                    "method": "flat",
                    "tenor_months": 12,
                    "first_due": "2026-02-01",
                },
            )
        if t == "LoanDisbursed":
            return self._row(coop, device, t, loan, {"amount": 2_000_000, "disbursed_on": day})
        if t == "LoanRepaymentReceived":
            return self._row(
                coop, device, t, loan, {"amount": 191_700, "paid_on": day, "receipt_no": f"KW{n}"}
            )
        if t in ("StockReceived", "StockAdjusted", "StockCounted", "PriceSet"):
            sku, loc = r.choice(SKUS), r.choice(LOCATIONS)
            p = {"sku": sku, "location": loc}
            if t == "StockReceived":
                p |= {"qty": r.randint(20, 60), "supplier": "Bulog", "doc_no": f"DO{n}"}
            elif t == "StockAdjusted":
                p |= {"delta": -r.randint(1, 3), "reason": "rusak"}
            elif t == "StockCounted":
                p |= {"counted_qty": r.randint(0, 40)}
            else:
                p = {"sku": sku, "unit_price": 15_000}
            return self._row(coop, device, t, sku, p)
        if t == "ShipmentDispatched" or (t == "ShipmentReceived" and not st["shipments"]):
            sid = f"TR-{device}-{n}"
            st["shipments"].append(sid)
            return self._row(
                coop,
                device,
                "ShipmentDispatched",
                sid,
                {
                    "origin": "gudang",
                    "destination": coop,
                    "lines": [{"sku": r.choice(SKUS), "qty": 10}],
                    "dispatched_on": day,
                },
            )
        if t == "ShipmentReceived":
            return self._row(
                coop,
                device,
                t,
                st["shipments"].pop(0),
                {
                    "lines": [{"sku": r.choice(SKUS), "qty": 10}],
                    "location": "main",
                    "received_on": day,
                },
            )
        if t in ("AidRedeemed", "AidRedemptionVoided"):
            if t == "AidRedemptionVoided" and st["redeemed"]:
                ent, rid = st["redeemed"][-1]
                payload = {"redemption_event_id": rid, "reason": "dobel"}
                return self._row(coop, device, t, ent[0], payload)
            # mostly the next family of the cycle; a few redeem again at another counter
            again = st["redeemed"] and (r.random() < 0.03 or not st["fresh"])
            ent = r.choice(st["redeemed"][-50:])[0] if again else st["fresh"].pop()
            eid, card, program, cycle = ent
            st["redeemed"].append((ent, f"{device}-{n}"))
            allowance = f"A{coop}{program}{cycle.replace('-', '')}"
            payload = {"card_uid": card, "allowance_id": allowance, "value": 200_000,
                       "verification": "CHIP_PIN"}  # fmt: skip
            return self._row(coop, device, "AidRedeemed", eid, payload)
        if t == "StimulusFundUtilized":
            return self._row(
                coop,
                device,
                t,
                f"SF-{coop}",
                {"amount": 1_000_000, "purpose": "STOCK", "doc_no": f"BKK{n}", "used_on": day},
            )
        return self._row(
            coop,
            device,
            "StimulusRevolvingRepaymentMade",
            f"SF-{coop}",
            {"amount": 500_000, "paid_on": day, "receipt_no": f"KW{n}"},
        )

    def rows(self, n: int) -> list[dict[str, Any]]:
        """``n`` store rows in arrival order: reference data, then offline devices' uploads."""
        out: list[dict[str, Any]] = []
        for coop in self.coops:
            out += self.reference(coop)
        devices = [(coop, f"k{i}-{coop[-6:]}") for coop in self.coops for i in range(3)]
        while len(out) < n:
            coop, device = self.rng.choice(devices)
            # a device back from being offline uploads a chunk of its backlog
            for _ in range(min(self.rng.randint(20, 120), n - len(out))):
                if not self.state[coop]["fresh"]:
                    out += self.cycle(coop)  # the province opens the next aid cycle
                out.append(self.edge(coop, device))
        return out[:n]


def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    store_metadata.create_all(engine)
    return engine


def floor(url: str, rows: list[dict[str, Any]], chunk: int) -> float:
    """Rows/s of a bulk insert of the same rows into ``events`` (the write floor).

    The DB-API ``executemany`` of the store's connection, ``chunk`` rows per transaction
    as the projector commits, no SQLAlchemy processing: the least any writer of that
    many rows pays on this machine, in the same run.
    """
    engine = _engine(url)
    names = list(rows[0])
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join(mark for _ in names)})"
    params = [tuple(r[n] for n in names) for r in rows]
    started = time.perf_counter()
    for i in range(0, len(params), chunk):
        with engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(sql, params[i : i + chunk])
    seconds = time.perf_counter() - started
    engine.dispose()
    return len(rows) / seconds


def load(url: str, rows: list[dict[str, Any]]) -> None:
    engine = _engine(url)
    for i in range(0, len(rows), 20_000):
        with engine.begin() as conn:
            conn.execute(sa.insert(events), rows[i : i + 20_000])
    engine.dispose()


def project(url: str, batch: int) -> dict[str, Any]:
    """Project everything in the store once; wall time, and this process's CPU time.

    CPU time is reported too because a shared machine's load stretches wall time: the
    CPU rate is what the projector sustains on a core of its own.
    """
    with Projector(url, batch_size=batch) as p:
        cpu = time.process_time()
        res = p.run_once()
        cpu = time.process_time() - cpu
    return {
        "events": res.events,
        "seconds": round(res.seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_s": int(res.rate),
        "events_per_cpu_s": int(res.events / cpu) if cpu > 0 else None,
    }


def pg_url(given: str | None) -> str | None:
    url = given or os.environ.get("KOPSYNC_TEST_POSTGRES_URL") or PG_DEFAULT
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except (sa.exc.SQLAlchemyError, ImportError):
        return None
    return url


def fresh_pg_schema(url: str) -> tuple[str, str]:
    """A throw-away schema selected by search_path; returns (url, schema)."""
    schema = f"kopsync_bench_{os.getpid()}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    u = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return u.render_as_string(hide_password=False), schema


def drop_pg_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


PARTS = ("sqlite", "postgres", "replay")


def parts(given: list[str] | None) -> set[str]:
    """The parts named by ``--only`` (every part when none is)."""
    if not given:
        return set(PARTS)
    named = {p.strip() for g in given for p in g.split(",") if p.strip()}
    unknown = named - set(PARTS)
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {', '.join(sorted(unknown))}; of {PARTS}")
    return named


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--pg", default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", action="append", metavar="PARTS", help=", ".join(PARTS))
    args = ap.parse_args()
    only = parts(args.only)
    rate_n, replay_n = (100_000, 200_000) if args.quick else (200_000, 1_000_000)
    coops = max(20, rate_n // 2000)
    result: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "load_average": os.getloadavg()[0],
        "batch": args.batch,
        "cooperatives": coops,
        "rate_events": rate_n,
        "cpu_count": os.cpu_count(),
    }
    if args.only:
        result["only"] = sorted(only)
    rows = Workload(coops).rows(rate_n) if only & {"sqlite", "postgres"} else []
    types: dict[str, int] = {}
    for r in rows:
        types[r["type"]] = types.get(r["type"], 0) + 1
    result["mix"] = dict(sorted(types.items()))
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in only:
            url = f"sqlite:///{Path(tmp) / 'floor.db'}"
            result["floor_rows_per_s"] = int(floor(url, rows, args.batch))
            url = f"sqlite:///{Path(tmp) / 'rate.db'}"
            load(url, rows)
            result["sqlite"] = project(url, args.batch)
            result["sqlite_events_per_s"] = result["sqlite"]["events_per_s"]
        pg = pg_url(args.pg) if "postgres" in only else None
        if "postgres" in only and pg is None:
            result["postgres_events_per_s"] = None
        elif pg is not None:
            scoped, schema = fresh_pg_schema(pg)
            try:
                result["postgres_floor_rows_per_s"] = int(floor(scoped, rows, args.batch))
                drop_pg_schema(pg, schema)
                scoped, schema = fresh_pg_schema(pg)
                load(scoped, rows)
                result["postgres"] = project(scoped, args.batch)
                result["postgres_events_per_s"] = result["postgres"]["events_per_s"]
            finally:
                drop_pg_schema(pg, schema)
        del rows
        if "replay" in only:
            replay_rows = Workload(max(20, replay_n // 2000), seed=11).rows(replay_n)
            url = f"sqlite:///{Path(tmp) / 'replay.db'}"
            load(url, replay_rows)
            del replay_rows
            replay = project(url, args.batch)
            result["replay_events"] = replay["events"]
            result["replay_s"] = replay["seconds"]
            result["replay_cpu_s"] = replay["cpu_seconds"]
            result["replay_1m_s"] = round(replay["seconds"] * 1_000_000 / replay["events"], 1)
            result["replay_1m_extrapolated"] = replay["events"] != 1_000_000
    result["load_average_after"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    summary = []
    if "sqlite" in only:
        summary.append(f"SQLite {result['sqlite_events_per_s']:,} ev/s")
    if "postgres" in only:
        summary.append(f"PostgreSQL {result['postgres_events_per_s'] or 'n/a'} ev/s")
    if "sqlite" in only:
        summary.append(f"floor {result['floor_rows_per_s']:,} rows/s")
    if "replay" in only:
        summary.append(f"1M replay {result['replay_1m_s']} s")
    print(f"projection: {', '.join(summary)}", file=sys.stderr)


if __name__ == "__main__":
    main()
