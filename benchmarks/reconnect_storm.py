"""Reconnect storm: many devices with a backlog reconnect to the central at the same moment.

Every simulated device holds its own NATS connection (one process holds them all) and
speaks the real protocol with real signed, hash-chained events (docs/PROTOCOL.md): it asks
the hello, publishes its backlog as one upload batch to JetStream (``kop.up.{coop}.{device}``,
with ``Nats-Msg-Id``), then asks the hello again until the central answers that every seq is
committed. A failed attempt (connect, hello or publish timeout) starts over: **without
jitter** at once; **with jitter** after a full-jitter exponential backoff (uniform in
0..min(cap, base·2^attempt)), the first connection itself spread uniformly over ``spread``
seconds. The central is ``kopsync central ingest`` in its own process on a SQLite store
(``--db`` for PostgreSQL) and a nats-server from the pip package.

    python benchmarks/reconnect_storm.py --quick    # 300 devices × 100 events, both modes (< 1 min)
    python benchmarks/reconnect_storm.py            # 1,000 devices × 100 events, both modes

Figures per mode: ``seconds`` from the storm's start until the last device saw its last seq
committed; ``lost`` events of the devices' logs missing from the central store (or stored
with other bytes); ``duplicated`` rows beyond one per (device, seq); ``attempts`` and
``failed_attempts`` of the devices; ``resent`` uploads the central received more than once
(absorbed by ``(device_id, seq)``). Prints JSON on stdout and a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import CentralProcess, NatsServer, emit

from central_projector.record.store import CentralStore
from central_projector.record.tables import events as events_table
from sync_core import subjects
from sync_core.batch import batch_msg_id, encode_batch
from sync_core.envelope import seal
from sync_core.hlc import Hlc
from sync_core.protocol import HelloRefusal, HelloReply, HelloRequest
from sync_core.signing import GENESIS_HASH, DeviceKey
from sync_core.transport import ConnectOptions, Link

COOPS = ("6401050012", "6472021005", "6202030001", "6208010004")
T0 = 1_767_225_600_000


@dataclass
class Device:
    coop_id: str
    device_id: str
    key: DeviceKey
    log: list[bytes]  # canonical envelopes, seq 1..n
    attempts: int = 0
    failed: int = 0
    done_at: float | None = None


def make_devices(n: int, backlog: int, tag: str) -> list[Device]:
    """``n`` devices with ``backlog`` signed, chained PriceSet events each (valid at ingest)."""
    out = []
    for i in range(n):
        coop = COOPS[i % len(COOPS)]
        device_id = f"{tag}-{i:05d}"
        key = DeviceKey.generate()
        prev, log = GENESIS_HASH, []
        for seq in range(1, backlog + 1):
            env = seal(
                key,
                event_id=f"{device_id}-{seq}",
                coop_id=coop,
                device_id=device_id,
                seq=seq,
                hlc=Hlc(T0 + seq * 1000, 0),
                type="PriceSet",
                version=1,
                aggregate_id=f"SKU-{seq % 7}",
                payload={"sku": f"SKU-{seq % 7}", "unit_price": 1000 + seq},
                prev_hash=prev,
            )
            prev = env.hash
            log.append(env.encode())
        out.append(Device(coop, device_id, key, log))
    return out


async def run_device(
    dev: Device, url: str, jitter: bool, rng: random.Random, args: argparse.Namespace
) -> None:
    if jitter:
        await asyncio.sleep(rng.uniform(0, args.spread))
    while dev.done_at is None:
        dev.attempts += 1
        # One connect attempt per try (a retry wait longer than the timeout): what is measured
        # is the devices' own backoff, below.
        link = Link(ConnectOptions.for_url(url, name=dev.device_id, reconnect_wait_s=10.0))
        try:
            await link.open(5, allow_reconnect=False)
            js = link.js
            committed = await hello(link, dev)
            if committed < len(dev.log):
                batch = encode_batch(dev.coop_id, dev.device_id, dev.log[committed:])
                msg_id = batch_msg_id(dev.device_id, committed + 1, len(dev.log))
                await js.publish(
                    subjects.upload(dev.coop_id, dev.device_id),
                    batch,
                    headers={"Nats-Msg-Id": msg_id},
                    timeout=args.timeout,
                )
            deadline = time.monotonic() + args.confirm_s
            wait = args.poll
            while time.monotonic() < deadline:
                if await hello(link, dev) >= len(dev.log):
                    dev.done_at = time.monotonic()
                    break
                # Growing waits: a thousand devices asking every half second would keep
                # the central answering hellos instead of committing.
                await asyncio.sleep(wait)
                wait = min(args.poll_max, wait * 1.5)
            else:
                raise TimeoutError("not confirmed in time")
        except Exception:
            dev.failed += 1
            if jitter:
                cap = min(args.cap, args.base * 2 ** min(dev.failed, 10))
                await asyncio.sleep(rng.uniform(0, cap))
            else:
                await asyncio.sleep(0.01)
        finally:
            await link.close()


async def hello(link: Link, dev: Device) -> int:
    clock = Hlc(int(time.time() * 1000), 0)
    request = HelloRequest(dev.coop_id, dev.device_id, len(dev.log), clock)
    msg = await link.nc.request(
        subjects.hello(dev.coop_id, dev.device_id), request.encode(), timeout=10
    )
    reply = HelloReply.decode(msg.data)
    if isinstance(reply, HelloRefusal):
        raise RuntimeError(reply.error)
    return reply.committed_seq


def check(db_url: str, devices: list[Device]) -> tuple[int, int]:
    """(lost, duplicated) of the devices' logs against the central store."""
    engine = sa.create_engine(db_url)
    e = events_table.c
    lost = duplicated = 0
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.device_id, e.seq, e.envelope).where(e.status == "committed")
        ).all()
    engine.dispose()
    stored: dict[tuple[str, int], list[bytes]] = {}
    for device_id, seq, envelope in rows:
        stored.setdefault((device_id, int(seq)), []).append(bytes(envelope))
    for dev in devices:
        for seq, data in enumerate(dev.log, start=1):
            got = stored.get((dev.device_id, seq), [])
            if data not in got:
                lost += 1
            duplicated += max(0, len(got) - 1)
    return lost, duplicated


async def storm(args: argparse.Namespace, workdir: Path, jitter: bool) -> dict[str, Any]:
    mode = "jitter" if jitter else "no_jitter"
    db_url = args.db or f"sqlite:///{workdir / f'central-{mode}.db'}"
    made = time.perf_counter()
    devices = make_devices(args.devices, args.events, "j" if jitter else "n")
    store = CentralStore(db_url)
    for d in devices:
        store.register_device(d.coop_id, d.device_id, d.key.public_key)
    store.close()
    setup_s = time.perf_counter() - made
    (workdir / mode).mkdir(exist_ok=True)
    with NatsServer(workdir / mode) as server:
        async with CentralProcess(server.url, db_url, workdir / mode, 2 << 30) as central:
            rng = random.Random(args.seed)
            start = time.monotonic()
            tasks = [
                asyncio.create_task(run_device(d, server.url, jitter, rng, args)) for d in devices
            ]
            _, pending = await asyncio.wait(tasks, timeout=args.limit)
            for t in pending:
                t.cancel()
            seconds = max((d.done_at or time.monotonic()) - start for d in devices)
        stats = central.final_stats()
    lost, duplicated = check(db_url, devices)
    return {
        "mode": mode,
        "devices": len(devices),
        "events": len(devices) * args.events,
        "seconds": round(seconds, 2),
        "all_committed": not pending and all(d.done_at is not None for d in devices),
        "lost": lost,
        "duplicated": duplicated,
        "attempts": sum(d.attempts for d in devices),
        "failed_attempts": sum(d.failed for d in devices),
        "resent": int(stats.get("duplicates", 0)),
        "events_per_s": round(len(devices) * args.events / seconds) if seconds else None,
        "setup_s": round(setup_s, 2),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="300 devices, both modes (< 1 min)")
    p.add_argument("--devices", type=int, default=None, help="devices (1,000; quick 300)")
    p.add_argument("--events", type=int, default=100, help="backlog events per device")
    p.add_argument("--db", default=None, help="central store URL (default: a SQLite file)")
    p.add_argument("--modes", default="jitter,no_jitter", help="which runs, comma-separated")
    p.add_argument("--spread", type=float, default=2.0, help="jitter: first connect within S s")
    p.add_argument("--base", type=float, default=0.5, help="jitter: backoff base seconds")
    p.add_argument("--cap", type=float, default=8.0, help="jitter: backoff cap seconds")
    p.add_argument("--timeout", type=float, default=10.0, help="publish ack timeout seconds")
    p.add_argument("--confirm-s", type=float, default=60.0, help="wait for the commit per try")
    p.add_argument("--poll", type=float, default=0.5, help="first wait between confirming hellos")
    p.add_argument("--poll-max", type=float, default=3.0, help="longest wait between them")
    p.add_argument("--limit", type=float, default=300.0, help="give up a run after S seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="also write the JSON here")
    a = p.parse_args(argv)
    a.devices = a.devices or (300 if a.quick else 1000)
    return a


def summary(result: dict[str, Any]) -> str:
    parts = [
        f"{r['mode']}: {r['events']} events of {r['devices']} devices committed in "
        f"{r['seconds']} s ({'ok' if r['all_committed'] and r['seconds'] <= 60 else 'MISSED'} "
        f"≤ 60 s), lost {r['lost']} duplicated {r['duplicated']}, "
        f"{r['failed_attempts']} failed attempts"
        for r in result["runs"]
    ]
    return "reconnect_storm: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in ("jitter", "no_jitter") for m in modes):
        print("error: --modes takes jitter and/or no_jitter", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kop-storm-") as tmp:
        runs = [asyncio.run(storm(args, Path(tmp), m == "jitter")) for m in modes]
    first = runs[0]
    result = {
        "devices": first["devices"],
        "events": first["events"],
        "seconds": max(r["seconds"] for r in runs),
        "lost": sum(r["lost"] for r in runs),
        "duplicated": sum(r["duplicated"] for r in runs),
        "mode": "quick" if args.quick else "full",
        "runs": runs,
    }
    emit(result, args.out, summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
