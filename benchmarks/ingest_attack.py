"""Ingest under attack: good devices' commit latency while one device floods garbage.

One nats-server and ``kopsync central ingest`` (its own process, a SQLite store unless
``--db``); ``--good`` registered devices each publish one signed event every ``--interval``
seconds; latency is from the publish until the event appears on KOP_EVENTS (the outbox
publishes it right after the commit). The run is made twice, side by side: without an
attacker (the baseline), and with one registered device flooding garbage uploads (each a
batch of 40 unsigned ``{"seq": 2**63}`` events) at full speed from a process of its own.
The goal: p99 under attack at most 2x the baseline.

    python benchmarks/ingest_attack.py [--quick] [--good 4] [--events 150] [--out FILE]

Prints the JSON and, on stderr, a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
from _harness import CentralProcess, NatsServer, emit, percentile

from central_projector.record.store import CentralStore
from sync_core import subjects
from sync_core.batch import encode_batch
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, DeviceKey
from sync_core.transport import ConnectOptions, connected

COOP = "6401050012"  # Paser Belengkong (made-up village code within Paser)
ATTACKER = "penyerang-1"
POISON = msgpack.packb({"seq": 2**63})
JS_BUDGET = 1024**3


def chain(key: DeviceKey, device_id: str, n: int) -> list[Envelope]:
    """``n`` signed, chained PriceSet events of one device."""
    out, prev = [], GENESIS_HASH
    wall = int(time.time() * 1000)
    for seq in range(1, n + 1):
        env = seal(
            key,
            event_id=f"00000000-0000-4000-8000-{hash(device_id) % 10**6:06d}{seq:06d}",
            coop_id=COOP,
            device_id=device_id,
            seq=seq,
            hlc=Hlc(wall + seq, 0),
            type="PriceSet",
            version=1,
            aggregate_id=f"BRS-{seq % 7}",
            payload={"sku": f"BRS-{seq % 7}", "unit_price": 70_000 + seq},
            prev_hash=prev,
        )
        out.append(env)
        prev = env.hash
    return out


def flood(url: str, stop: Any, counter: Any) -> None:
    """The attacker's process: publish garbage uploads as fast as JetStream acknowledges."""

    async def run() -> None:
        body = encode_batch(COOP, ATTACKER, [POISON] * 40)
        subject = subjects.upload(COOP, ATTACKER)
        async with connected(ConnectOptions.for_url(url, name="attacker")) as link:
            while not stop.is_set():
                acks = [link.js.publish(subject, body, timeout=30) for _ in range(256)]
                results = await asyncio.gather(*acks, return_exceptions=True)
                with counter.get_lock():
                    counter.value += sum(not isinstance(r, BaseException) for r in results)

    asyncio.run(run())


async def measure(args: argparse.Namespace, workdir: Path, attack: bool) -> dict[str, Any]:
    db_url = args.db or f"sqlite:///{workdir / 'central.db'}"
    keys = {f"kasir-{i}": DeviceKey.generate() for i in range(args.good)}
    with CentralStore(db_url) as store:
        for device_id, key in keys.items():
            store.register_device(COOP, device_id, key.public_key)
        store.register_device(COOP, ATTACKER, DeviceKey.generate().public_key)
    chains = {d: chain(k, d, args.events) for d, k in keys.items()}
    with NatsServer(workdir / "nats") as nats:
        async with CentralProcess(nats.url, db_url, workdir, JS_BUDGET) as central:
            async with connected(ConnectOptions.for_url(nats.url, name="bench")) as link:
                seen: dict[tuple[str, int], float] = {}

                async def on_event(msg: Any) -> None:
                    env = Envelope.decode(msg.data)
                    seen.setdefault((env.device_id, env.seq), time.monotonic())

                sub = await link.nc.subscribe(subjects.canonical_wildcard(), cb=on_event)
                stop, counter = multiprocessing.Event(), multiprocessing.Value("q", 0)
                attacker = None
                if attack:
                    attacker = multiprocessing.Process(target=flood, args=(nats.url, stop, counter))
                    attacker.start()
                    await asyncio.sleep(args.warmup)  # the flood is at full speed
                sent: dict[tuple[str, int], float] = {}

                async def device(device_id: str) -> None:
                    subject = subjects.upload(COOP, device_id)
                    for env in chains[device_id]:
                        sent[(device_id, env.seq)] = time.monotonic()
                        body = encode_batch(COOP, device_id, [env.encode()])
                        await link.js.publish(subject, body, timeout=60)
                        await asyncio.sleep(args.interval)

                started = time.monotonic()
                await asyncio.gather(*(device(d) for d in chains))
                deadline = time.monotonic() + args.limit
                while len(seen) < len(sent) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if attacker is not None:
                    stop.set()
                    await asyncio.to_thread(attacker.join, 30)
                await sub.unsubscribe()
            seconds = time.monotonic() - started
        stats = central.final_stats()
    lat = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]
    with CentralStore(db_url) as store:
        quarantined = len(store.quarantined(ATTACKER))
    return {
        "attack": attack,
        "good_devices": args.good,
        "events": len(sent),
        "committed": len(lat),
        "seconds": round(seconds, 1),
        "latency_ms": {
            "p50": _r(percentile(lat, 50)),
            "p99": _r(percentile(lat, 99)),
            "max": _r(max(lat) if lat else None),
        },
        "attacker_published": int(counter.value) if attack else 0,
        "attacker_per_s": round(counter.value / max(seconds + args.warmup, 1e-3)) if attack else 0,
        "attacker_quarantine_rows": quarantined,
        "ingest": {k: stats.get(k) for k in ("messages", "over_budget", "quarantined", "acked")},
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="2 devices x 40 events (about 1 min)")
    p.add_argument("--good", type=int, default=None, help="good devices (4; quick 2)")
    p.add_argument("--events", type=int, default=None, help="events per good device (150; 40)")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between a device's uploads")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of flood before measuring")
    p.add_argument("--limit", type=float, default=120.0, help="wait for the last commit at most")
    p.add_argument("--db", default=None, help="central store URL (default: a SQLite file)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    a = p.parse_args(argv)
    a.good = a.good or (2 if a.quick else 4)
    a.events = a.events or (40 if a.quick else 150)
    return a


def summary(result: dict[str, Any]) -> str:
    base, attack = result["baseline"], result["attack"]
    ratio = result["p99_ratio"]
    verdict = "ok" if ratio is not None and ratio <= 2 else "MISSED"
    return (
        f"ingest_attack: good-device commit p99 {attack['latency_ms']['p99']} ms under a flood of "
        f"{attack['attacker_per_s']:,} garbage uploads/s against {base['latency_ms']['p99']} ms "
        f"without (x{ratio}, {verdict} <= 2x); {attack['committed']}/{attack['events']} committed, "
        f"{attack['attacker_quarantine_rows']} quarantine rows for "
        f"{attack['attacker_published']:,} garbage uploads"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kop-attack-") as tmp:
        runs = {}
        for name, attack in (("baseline", False), ("attack", True)):
            (Path(tmp) / name).mkdir()
            runs[name] = asyncio.run(measure(args, Path(tmp) / name, attack))
    b, a = runs["baseline"]["latency_ms"]["p99"], runs["attack"]["latency_ms"]["p99"]
    result = {
        "mode": "quick" if args.quick else "full",
        **runs,
        "p99_ratio": round(a / b, 2) if a and b else None,
    }
    emit(result, args.out, summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
