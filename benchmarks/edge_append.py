"""Edge append benchmark: latency at 1k and 100k events of history, events/s, raw baseline.

Each kopsync append is one teller command in its own durable transaction
(check rules, seal, sign, chain, insert, save views, fsync). The baseline is a
raw ``sqlite3`` insert of a blob of the same size with the same pragmas (WAL,
synchronous=FULL), one row per transaction, measured in the same run,
alternating rounds so both see the same machine load.

    python benchmarks/edge_append.py [--quick] [--out FILE]

Prints one JSON object, then a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_agent.adapters.sqlite_durable import PAGE_SIZE, WAL_AUTOCHECKPOINT
from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent

COOP, DEVICE = "6202071003", "pos-bench"


def mix(start: int) -> Iterator[Draft]:
    """An endless, valid, realistic mix of edge events (shop, savings, members, stock)."""
    i = start
    while True:
        i += 1
        k = i % 5
        if k == 0:
            yield Draft(
                "StockReceived",
                f"SKU-{i % 50}",
                {
                    "sku": f"SKU-{i % 50}",
                    "qty": 20,
                    "location": "toko",
                    "supplier": "CV Sumber Rejeki Sampit",
                    "doc_no": f"DO-{i}",
                },
            )
        elif k == 1:
            yield Draft(
                "SaleRecorded",
                f"S-{i}",
                {
                    "lines": [
                        {"sku": f"SKU-{i % 50}", "qty": 2, "unit_price": 16_000},
                        {"sku": f"SKU-{(i + 7) % 50}", "qty": 1, "unit_price": 72_500},
                    ],
                    "payments": [{"method": "cash", "amount": 104_500}],
                    "location": "toko",
                    "stock_override_reason": "benchmark",
                    "price_override_reason": "benchmark",
                },
            )
        elif k == 2:
            yield Draft(
                "SavingsDeposited",
                f"ACC-{i % 200}",
                {"amount": 50_000, "receipt_no": f"KW-{i}", "period": "2026-11"},
            )
        elif k == 3:
            yield Draft(
                "MemberRegistered",
                f"M-{i}",
                {
                    "nik": f"{6202000000000000 + i}",
                    "kk_no": f"{6202010000000000 + i}",
                    "name": "Siti Rahmawati",
                    "birth_date": "1988-04-17",
                    "desa_code": "6202071003",
                    "phone": "+6281234567890",
                },
            )
        else:
            yield Draft("PriceSet", f"SKU-{i % 50}", {"sku": f"SKU-{i % 50}", "unit_price": 16_000})


def setup(agent: EdgeAgent) -> None:
    """The members and savings accounts the mix deposits into (accounts need a member)."""
    agent.record_many(
        [
            Draft(
                "MemberRegistered",
                f"SAVER-{a}",
                {
                    "nik": f"{6202070000000000 + a}",
                    "kk_no": f"{6202070100000000 + a}",
                    "name": "Ahmad Fauzi",
                    "birth_date": "1979-08-01",
                    "desa_code": "6202071003",
                },
            )
            for a in range(200)
        ]
    )
    agent.record_many(
        [
            Draft(
                "SavingsAccountOpened",
                f"ACC-{a}",
                {"member_id": f"SAVER-{a}", "product": "SUKARELA", "opened_on": "2026-01-05"},
            )
            for a in range(200)
        ]
    )


def grow(agent: EdgeAgent, gen: Iterator[Draft], to_seq: int, batch: int = 500) -> None:
    """Add history quickly (batched transactions; not what is measured)."""
    while (n := to_seq - agent.head().seq) > 0:
        agent.record_many([next(gen) for _ in range(min(batch, n))])


def timed_appends(agent: EdgeAgent, gen: Iterator[Draft], n: int) -> list[float]:
    lat = []
    for _ in range(n):
        d = next(gen)
        t0 = time.perf_counter()
        agent.record(d.type, d.payload, d.aggregate_id)
        lat.append(time.perf_counter() - t0)
    return lat


class RawBaseline:
    """Raw sqlite3 inserts, same pragmas and row size, one row per transaction."""

    def __init__(self, path: Path, size: int) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        # Every pragma the edge store sets, so the difference is kopsync's own work.
        self.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS ev (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        self.blob = os.urandom(size)
        self.i = 0

    def rate(self, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            self.i += 1
            self.conn.execute("BEGIN")
            self.conn.execute(
                "INSERT INTO ev VALUES (?, ?, ?, ?)", (DEVICE, self.i, "SaleRecorded:v2", self.blob)
            )
            self.conn.execute("COMMIT")
        return n / (time.perf_counter() - t0)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] * 1000


def run(quick: bool) -> dict[str, Any]:
    n = 2_000 if quick else 10_000
    block = 100
    big = 100_000
    with tempfile.TemporaryDirectory(prefix="kopsync-bench-") as tmp:
        small_agent = EdgeAgent.init(Path(tmp) / "small", COOP, DEVICE)
        big_agent = EdgeAgent.init(Path(tmp) / "big", COOP, DEVICE)
        gens = {}
        for agent in (small_agent, big_agent):
            setup(agent)
            gens[id(agent)] = mix(0)
        grow(small_agent, gens[id(small_agent)], 1_000)
        grow(big_agent, gens[id(big_agent)], big)
        sizes = [len(e.encode()) for e in small_agent.store.events(800)]
        size = int(statistics.mean(sizes))
        # Interleave small blocks of each measurement so that all three see the same
        # machine load: 1k-history appends, 100k-history appends, raw sqlite inserts.
        lat_1k: list[float] = []
        lat_100k: list[float] = []
        rates, base_rates = [], []
        baseline = RawBaseline(Path(tmp) / "raw.db", size)
        for _ in range(n // block):
            for agent, lat in ((small_agent, lat_1k), (big_agent, lat_100k)):
                t0 = time.perf_counter()
                lat.extend(timed_appends(agent, gens[id(agent)], block))
                rates.append(block / (time.perf_counter() - t0))
            base_rates.append(baseline.rate(block))
        ok = small_agent.verify().ok and big_agent.verify().ok
        history = big_agent.head().seq
        small_agent.close()
        big_agent.close()
        baseline.conn.close()
    res = {
        "benchmark": "edge_append",
        "quick": quick,
        "measured_appends_per_history": n,
        "history_events_small": 1_000,
        "history_events_big": history,
        "event_bytes_mean": size,
        "p50_ms_1k": round(pct(lat_1k, 0.50), 3),
        "p99_ms_1k": round(pct(lat_1k, 0.99), 3),
        "p50_ms_100k": round(pct(lat_100k, 0.50), 3),
        "p99_ms_100k": round(pct(lat_100k, 0.99), 3),
        "events_per_s": round(statistics.median(rates)),
        "baseline_events_per_s": round(statistics.median(base_rates)),
        "chain_verified": ok,
    }
    res["p99_ratio_100k_to_1k"] = round(res["p99_ms_100k"] / res["p99_ms_1k"], 3)
    res["throughput_ratio_to_baseline"] = round(
        res["events_per_s"] / res["baseline_events_per_s"], 3
    )
    res["targets_met"] = {
        "p99_le_5ms": res["p99_ms_1k"] <= 5 and res["p99_ms_100k"] <= 5,
        "p99_100k_le_1_2x_1k": res["p99_ratio_100k_to_1k"] <= 1.2,
        "throughput_ge_half_baseline": res["throughput_ratio_to_baseline"] >= 0.5,
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="finish within a minute")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    res = run(args.quick)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(
        f"edge_append: p99 {res['p99_ms_1k']} ms @1k, {res['p99_ms_100k']} ms @100k "
        f"(x{res['p99_ratio_100k_to_1k']}); {res['events_per_s']} ev/s vs raw sqlite "
        f"{res['baseline_events_per_s']} ev/s (x{res['throughput_ratio_to_baseline']})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
