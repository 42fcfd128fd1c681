"""Sync catch-up benchmark: a device's offline backlog over a flaky satellite link.

One device records a backlog offline (``edge_agent.devtools.sim``: realistic events of every edge
area), then ``Replicator.run`` (the long-running mode, reconnecting by itself) uploads it
through a :class:`LinkEmulator` shaped as a geostationary link (300 ms each way, 1 Mbit/s each
way) that is cut every ``--cut-every`` s (20) for ``--cut-for`` ± 0.5 s (3 ± 0.5, seeded), the
first cut ``--first-cut`` s (10) after the start. ``kopsync central ingest`` runs as its own
process against a SQLite central store, directly on a pinned nats-server (the pip package's
binary) that this script starts and stops. The run ends when the central store has committed
every event.

    python benchmarks/sync_catchup.py --quick      # 10,000 events, under a minute
    python benchmarks/sync_catchup.py              # 100,000 events, a few minutes

10,000 events take about 14 s of pure transmission, so ``--quick`` sees one cut (at 10 s) and
one resume; the full run sees about a dozen.

Prints one JSON object on stdout and a one-line summary on stderr. The figures, exactly:

- ``seconds``: from starting ``Replicator.run`` (the device is offline before: no
  connection) until the central store's ``committed_seq`` for the device equals the device's
  head (polled every 50 ms). Includes connecting, the hello, every cut and resume, the central's
  verification and commit of the last batch.
- ``link_utilisation``: bytes the emulator delivered upstream (device to server) in that
  window, divided by ``bandwidth / 8 × seconds the link was up in that window`` (the window
  minus the cuts). Every upstream byte counts: NATS protocol lines, hellos, pings, and batches
  re-sent after a cut (partly delivered batches too).
  ``detail.link_utilisation_upload`` is the same ratio up to the last upload's arrival at the
  server instead: the difference is the central still verifying and committing what the link
  had already carried (``detail.tail_s``).
- ``bytes_per_event``: the same upstream bytes divided by the number of events, so all protocol
  overhead and all re-sending caused by the cuts is included.
- ``json_bytes_per_event``: the baseline, measured after the catch-up through the same emulator:
  a sample of the same events (every k-th, spread over the whole log), each sent as one JSON
  message (the envelope's map as compact JSON, bytes as hex) with a plain nats-py core publish on
  a subject of the same length as the upload subject; upstream bytes from just before the first
  publish until a subscriber next to the server has received the last one, divided by the
  sample size. Core publishes are the
  cheapest per-message framing NATS has (no reply subject, no headers), so this baseline is the
  most favourable one for JSON. ``detail.json_bytes_per_event_all`` computes the same framing
  for every event of the log, to show the sample is representative.
- ``resume_p99_s`` / ``resume_max_s``: for each restore that happens while the device still has
  unacknowledged events, the seconds from ``LinkEmulator.restore()`` until the device holds
  JetStream's acknowledgement of its first upload batch published after the restore (timed by a
  ``Replicator`` subclass around each batch publish). It therefore includes the nats-py
  reconnect wait and NATS handshake, the hello round trip, the transmission of one batch and
  the acknowledgement's way back. p99 is nearest-rank, so with fewer than 100 restores it is the
  maximum. ``detail.resumes`` breaks each resume down, in seconds after the restore:
  ``reconnect_s`` (the first upstream byte delivered to the server: the client's CONNECT, which
  it can only send once the server's INFO has come down, so at least 2 × 300 ms after the TCP
  connect; to 25 ms), ``hello_sent_s`` / ``hello_answered_s`` (the replicator's first hello
  after the restore), ``first_upload_s`` (the first whole upload message received by
  nats-server, seen by a subscriber on the server side of the link) and ``first_ack_s``.
- ``cuts``: cuts that began before the central had committed everything.
- ``lost`` / ``duplicated``: the central's committed rows against the device's log: seqs of the
  log not committed centrally (or committed with other bytes: ``detail.mismatched``), and rows
  beyond one per seq.

Targets reported (``targets``), from issue 3: link utilisation ≥ 0.8 during catch-up; bytes per
event ≤ 0.4 × JSON per event; resume ≤ 2 s after the link returns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _catchup import (  # benchmarks/ is sys.path[0] when run as a script
    COOP,
    DEVICE,
    TimedReplicator,
    committed_seq,
    compare,
    configure_device_log,
    json_baseline,
    log_events,
)
from _harness import (
    ByteSampler,
    CentralProcess,
    CutSchedule,
    NatsServer,
    UploadMonitor,
    percentile,
)

from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.devtools.linkemu import LinkEmulator, LinkProfile
from edge_agent.devtools.sim import simulate
from kopsync.devnats import HOST
from sync_core.transport import ConnectOptions

JS_BUDGET = 512 * 1024 * 1024  # the streams reserve their max_bytes from the server's disk
RESUME_TARGET_S = 2.0
UTILISATION_TARGET = 0.8
BYTES_RATIO_TARGET = 0.4


@dataclass(frozen=True, slots=True)
class Config:
    mode: str
    events: int
    json_sample: int
    first_cut_s: float
    cut_every_s: float
    cut_for_s: float
    batch_events: int
    max_in_flight: int
    seed: int
    timeout_s: float
    tls: bool = False


async def catch_up(cfg: Config, workdir: Path) -> dict[str, Any]:
    agent = EdgeAgent.init(workdir / "device", COOP, DEVICE)
    sim = simulate(agent, cfg.events, seed=cfg.seed, batch=500)
    head = agent.head().seq
    log = [bytes(data) for _, data in agent.store.raw_events()]
    store = CentralStore(f"sqlite:///{workdir / 'central.db'}")
    store.register_device(COOP, DEVICE, agent.public_key)
    profile = LinkProfile.satellite()
    assert profile.bandwidth_bps is not None
    cuts = CutSchedule(cfg.first_cut_s, cfg.cut_every_s, cfg.cut_for_s, seed=cfg.seed)
    try:
        with NatsServer(workdir, tls=cfg.tls) as server:
            async with (
                LinkEmulator(HOST, server.port, profile) as link,
                CentralProcess(server.url, store.url, workdir, JS_BUDGET, server.tls) as central,
            ):
                monitor = UploadMonitor(server.url, server.tls)
                await monitor.start()
                sampler = ByteSampler(link, interval_s=0.025)
                settings = ReplicatorSettings(
                    ConnectOptions.for_url(server.through(link), tls=server.tls),
                    batch_events=cfg.batch_events,
                    max_in_flight=cfg.max_in_flight,
                )
                replicator = TimedReplicator(agent, settings)
                stop = asyncio.Event()
                t0 = time.monotonic()
                run = asyncio.create_task(replicator.run(stop))
                helpers = [
                    asyncio.create_task(cuts.run(link, t0)),
                    asyncio.create_task(sampler.run()),
                ]
                try:
                    while await asyncio.to_thread(committed_seq, store) < head:
                        if run.done():
                            run.result()
                            raise RuntimeError("Replicator.run returned before the end")
                        if time.monotonic() - t0 > cfg.timeout_s:
                            raise TimeoutError(f"not all committed within {cfg.timeout_s} s")
                        await asyncio.sleep(0.05)
                    t_done, bytes_up, bytes_down = time.monotonic(), link.bytes_up, link.bytes_down
                finally:
                    for task in helpers:
                        task.cancel()
                    await asyncio.gather(*helpers, return_exceptions=True)
                    stop.set()
                    await asyncio.wait_for(run, 30)
                    await monitor.stop()
                baseline = await json_baseline(
                    link, server.url, log, cfg.json_sample, server.tls, server.through(link)
                )
            central_stats = central.final_stats()
        checks = compare(agent, store)
    finally:
        store.close()
        agent.close()

    window = t_done - t0
    up_s = window - cuts.down_s(t0, t_done)
    capacity = profile.bandwidth_bps / 8 * up_s
    resumes: list[dict[str, float | None]] = []
    ack_delays: list[float] = []
    for cut_at, restored in cuts.cuts:
        acks = [a for a in replicator.acks if a >= restored]
        if restored >= t_done or not acks:
            continue  # the link came back after everything was acknowledged
        first_upload = min((t for t, _, _ in monitor.arrivals if t >= restored), default=None)
        reconnect = sampler.first_byte_after(restored)
        hello = min((h for h in replicator.hellos if h[0] >= restored), default=None)
        ack_delays.append(acks[0] - restored)
        resumes.append(
            {
                "cut_at_s": round(cut_at - t0, 2),
                "restored_at_s": round(restored - t0, 2),
                "reconnect_s": _r(reconnect - restored if reconnect else None),
                "hello_sent_s": _r(hello[0] - restored if hello else None),
                "hello_answered_s": _r(hello[1] - restored if hello else None),
                "first_upload_s": _r(first_upload - restored if first_upload else None),
                "first_ack_s": _r(acks[0] - restored),
            }
        )
    upload_delays = [d for r in resumes if (d := r["first_upload_s"]) is not None]
    carried, again = monitor.events_received()
    arrivals = [t for t, _, _ in monitor.arrivals]
    last = max(arrivals, default=t_done)
    bytes_per_event = bytes_up / cfg.events
    json_per_event = float(baseline["json_bytes_per_event"])
    utilisation = bytes_up / capacity
    resume_max = max(ack_delays, default=None)
    return {
        "benchmark": "sync_catchup",
        "mode": cfg.mode,
        "tls": cfg.tls,
        "events": cfg.events,
        "seconds": _r(window),
        "link_utilisation": _r(utilisation, 3),
        "bytes_per_event": _r(bytes_per_event, 1),
        "json_bytes_per_event": _r(json_per_event, 1),
        "bytes_ratio": _r(bytes_per_event / json_per_event, 3),
        "resume_p99_s": _r(percentile(ack_delays, 99)),
        "resume_max_s": _r(resume_max),
        "cuts": sum(1 for c, _ in cuts.cuts if c < t_done),
        "lost": checks["lost"],
        "duplicated": checks["duplicated"],
        "targets": {
            "link_utilisation_ge_0_8": utilisation >= UTILISATION_TARGET,
            "bytes_per_event_le_0_4_json": bytes_per_event <= BYTES_RATIO_TARGET * json_per_event,
            "resume_le_2_s": resume_max is not None and resume_max <= RESUME_TARGET_S,
            "lost_and_duplicated_0": checks["lost"] == checks["duplicated"] == 0,
        },
        "config": asdict(cfg)
        | {
            "latency_s": profile.latency_s,
            "bandwidth_bps": profile.bandwidth_bps,
            "replicator": {
                k: getattr(replicator.settings, k)
                for k in ("batch_events", "max_in_flight", "ack_timeout_s", "backoff_cap_s")
            },
        },
        "detail": {
            "bytes_up": bytes_up,
            "bytes_down": bytes_down,
            "link_up_s": _r(up_s),
            "idle_up_s": _r(sampler.idle_s(t0, t_done, cuts)),
            # The same ratio over the time the device was uploading (until the last upload
            # reached the server): the tail after it is the central still verifying and
            # committing what the link already carried.
            "link_utilisation_upload": _r(
                bytes_up / (profile.bandwidth_bps / 8 * (last - t0 - cuts.down_s(t0, last))), 3
            ),
            "startup_s": _r(min(arrivals) - t0 if arrivals else None),
            "tail_s": _r(t_done - last),
            "upload_messages": len(monitor.arrivals),
            "upload_payload_bytes_per_event": _r(
                sum(n for _, n, _ in monitor.arrivals) / cfg.events, 1
            ),
            "events_carried": carried,
            "events_carried_again": again,
            "resume_upload_p99_s": _r(percentile(upload_delays, 99)),
            "resumes": resumes,
            **{k: _r(v, 1) if isinstance(v, float) else v for k, v in baseline.items()},
            **{k: v for k, v in checks.items() if k not in ("lost", "duplicated")},
            "central": central_stats,
            "device_log": dict(Counter(log_events(workdir / "device.log"))),
            "simulate_s": _r(sim.seconds),
        },
    }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def parse_args(argv: list[str] | None) -> tuple[Config, Path | None, Path | None]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="10,000 events (under a minute)")
    p.add_argument("--events", type=int, help="backlog size (default 10,000 quick, 100,000)")
    p.add_argument("--json-sample", type=int, help="events in the JSON baseline (1,000 / 2,000)")
    p.add_argument("--first-cut", type=float, default=10.0, help="seconds to the first cut")
    p.add_argument("--cut-every", type=float, default=20.0, help="seconds from cut to cut")
    p.add_argument("--cut-for", type=float, default=3.0, help="seconds each cut lasts (±0.5 s)")
    p.add_argument("--batch-events", type=int, default=500, help="Replicator batch_events")
    p.add_argument("--max-in-flight", type=int, default=8, help="Replicator max_in_flight")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--tls",
        action="store_true",
        help="the link encrypted as deployed (tls://, TLS first, a CA made for the run)",
    )
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--keep", type=Path, help="work in this directory and keep it (logs, dbs)")
    a = p.parse_args(argv)
    quick = bool(a.quick)
    cfg = Config(
        mode="quick" if quick else "full",
        events=a.events or (10_000 if quick else 100_000),
        json_sample=a.json_sample or (1_000 if quick else 2_000),
        first_cut_s=a.first_cut,
        cut_every_s=a.cut_every,
        cut_for_s=a.cut_for,
        batch_events=a.batch_events,
        max_in_flight=a.max_in_flight,
        seed=a.seed,
        timeout_s=120.0 if quick else 3600.0,
        tls=a.tls,
    )
    return cfg, a.out, a.keep


def summary(result: dict[str, Any]) -> str:
    t = result["targets"]

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    return (
        f"sync_catchup {result['mode']}{' over TLS' if result['tls'] else ''}: "
        f"{result['events']} events committed in "
        f"{result['seconds']} s over {result['cuts']} cut(s); "
        f"utilisation {result['link_utilisation']} ({mark(t['link_utilisation_ge_0_8'])}); "
        f"{result['bytes_per_event']} B/event vs JSON {result['json_bytes_per_event']} "
        f"= {result['bytes_ratio']} ({mark(t['bytes_per_event_le_0_4_json'])}); "
        f"resume p99 {result['resume_p99_s']} s max {result['resume_max_s']} s "
        f"({mark(t['resume_le_2_s'])}); lost {result['lost']} duplicated {result['duplicated']}"
    )


def main(argv: list[str] | None = None) -> int:
    cfg, out, keep = parse_args(argv)
    with contextlib.ExitStack() as stack:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            workdir = keep
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kop-bench-")))
        configure_device_log(workdir / "device.log")
        result = asyncio.run(catch_up(cfg, workdir))
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n")
    print(summary(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
