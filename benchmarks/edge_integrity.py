"""Edge store integrity: the start-up check against the seal, beside a full verify and fold.

Before it records, a device checks its store against the seal every write keeps (hashes of
every view row and every central event, no signature, no fold); ``kopsync edge verify``
checks every signature and folds every signed log. Both measured on stores of 1k and 100k
events of the edge_append mix plus one central event per 100 (prices and quotas, signed by
a pinned key), each check on a freshly opened agent, as a command or a restart would.

    python benchmarks/edge_integrity.py [--quick] [--out FILE]

Prints one JSON object, then a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _harness import emit
from edge_append import COOP, DEVICE, mix, setup  # benchmarks/ is sys.path[0] as a script

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.integrity import examine
from schemas import REGISTRY
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, DeviceKey

ISSUER = "bench-central"
ISSUER_KEY = DeviceKey(bytes(range(32)))
CENTRAL_EVERY = 100
BATCH = 500


def central_events(first_seq: int, prev: bytes, n: int, wall: int) -> list[Envelope]:
    """``n`` chained central events from ``first_seq``: prices and LPG quotas."""
    out = []
    for seq in range(first_seq, first_seq + n):
        if seq % 2:
            t, agg, payload = (
                "PriceSet",
                f"SKU-{seq % 50}",
                {"sku": f"SKU-{seq % 50}", "unit_price": 16_000 + seq},
            )
        else:
            t, agg, payload = (
                "QuotaAllocated",
                "LPG-3KG",
                {"program": "LPG_3KG", "sku": "LPG-3KG", "qty": 30, "period": "2026-11"},
            )
        env = seal(
            ISSUER_KEY,
            event_id=str(uuid.uuid4()),
            coop_id=COOP,
            device_id=ISSUER,
            seq=seq,
            hlc=Hlc(wall + seq, 0),
            type=t,
            version=REGISTRY.latest_version(t),
            aggregate_id=agg,
            payload=REGISTRY.validate(t, payload),
            prev_hash=prev,
        )
        out.append(env)
        prev = env.hash
    return out  # fmt: skip


def build(data: Path, events: int) -> None:
    """A store of ``events`` local events and one central event per CENTRAL_EVERY."""
    with EdgeAgent.init(data, COOP, DEVICE) as agent:
        agent.store.pin_issuer(ISSUER, ISSUER_KEY.public_key)
        setup(agent)
        gen = mix(0)
        seq, prev = 0, GENESIS_HASH
        while (n := events - agent.head().seq) > 0:
            agent.record_many([next(gen) for _ in range(min(BATCH, n))])
            envs = central_events(seq + 1, prev, BATCH // CENTRAL_EVERY, agent.clock())
            agent.receive_central(envs)
            seq, prev = envs[-1].seq, envs[-1].hash


def timed(data: Path, runs: int) -> dict[str, Any]:
    """Median and max of the start-up check (open, check the seal) over ``runs`` opens."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with EdgeAgent(data) as agent:
            assert not agent.trust_problems(), agent.trust_problems()
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with EdgeAgent(data) as agent:
        report = examine(agent)
    full = time.perf_counter() - t0
    assert report.ok, report
    return {
        "events": report.chain.checked,
        "central_events": report.rows_checked.get("downlink_events", 0),
        "views": report.views_checked,
        "startup_check_ms_median": round(statistics.median(times) * 1000, 1),
        "startup_check_ms_max": round(max(times) * 1000, 1),
        "full_verify_ms": round(full * 1000, 1),
        "full_over_startup": round(full / statistics.median(times), 1),
    }


def run(quick: bool) -> dict[str, Any]:
    sizes = (1_000, 10_000) if quick else (1_000, 100_000)
    out: dict[str, Any] = {"benchmark": "edge_integrity", "quick": quick}
    with tempfile.TemporaryDirectory(prefix="kopsync-bench-") as tmp:
        for size in sizes:
            data = Path(tmp) / f"s{size}"
            build(data, size)
            out[f"at_{size}"] = timed(data, 5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1k and 10k events instead of 100k")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    res = run(args.quick)
    small, big = (res[k] for k in res if k.startswith("at_"))
    emit(
        res,
        args.out,
        f"edge_integrity: start-up check {small['startup_check_ms_median']} ms @{small['events']} "
        f"events, {big['startup_check_ms_median']} ms @{big['events']}; full verify "
        f"{small['full_verify_ms']} ms and {big['full_verify_ms']} ms "
        f"(x{small['full_over_startup']}, x{big['full_over_startup']})",
    )


if __name__ == "__main__":
    main()
