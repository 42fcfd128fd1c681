"""Scenarios of hostile input: malformed messages into ingest, and replayed valid uploads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa
from nats.aio.msg import Msg

from central_projector.record.tables import devices, quarantine
from edge_agent.app.agent import EdgeAgent
from fault.common import Budget, Result, judge, result
from fault.fuzz import generate
from fault.system import System
from sync_core import codec, subjects
from sync_core.batch import decode_batch

FUZZ_DEVICE = "fz-1"


def _ingested(log: str, prefix: str) -> list[dict[str, Any]]:
    """The ingest service's per-message ``ingested`` log lines for devices named ``prefix…``."""
    out = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if doc.get("event") == "ingested" and str(doc.get("device_id", "")).startswith(prefix):
                out.append(doc)
    return out


async def malformed(budget: Budget, root: Path) -> Result:
    """Publish malformed messages on a registered device's upload subject (and garbage
    hellos); every message must come out quarantined with a reason, nothing committed or
    held, and afterwards ingest and projector still serve: real devices sync exactly."""
    started = time.monotonic()
    count = budget.count(2_000, 100_000)
    # Every message is to be judged here: no device budget, and the stream keeps them all
    # (tests/integration/central/test_hostile_input.py is where the budgets are tried).
    unbounded = ("--quarantine-budget", str(2 * count), "--uploads-per-device", str(2 * count))
    system = await System(root, device_count=2, ingest_args=unbounded).start()
    fuzz = EdgeAgent.init(root / FUZZ_DEVICE, system.devices[0].coop_id, FUZZ_DEVICE)
    system.store.register_device(fuzz.coop_id, FUZZ_DEVICE, fuzz.public_key)
    problems: list[str] = []
    try:
        for d in system.devices:
            await system.record(d, budget.per_device(100, 500))
        bodies, generated = await asyncio.to_thread(
            generate, count, fuzz.key, fuzz.coop_id, FUZZ_DEVICE, budget.seed
        )
        made = time.monotonic()
        nc = await nats.connect(system.nats.url)
        hellos_answered = 0
        try:
            js = nc.jetstream()
            subject = subjects.upload(fuzz.coop_id, FUZZ_DEVICE)
            pending = []
            for i, body in enumerate(bodies):
                pending.append(await js.publish_async(subject, body))
                if len(pending) >= 256:
                    await asyncio.wait_for(asyncio.gather(*pending), 60)
                    pending = []
                if i % 200 == 0:  # garbage on the hello subject is answered, not fatal
                    reply = await nc.request(
                        subjects.hello(fuzz.coop_id, FUZZ_DEVICE), body[:64], timeout=30
                    )
                    hellos_answered += "error" in codec.decode(reply.data)
            await asyncio.wait_for(asyncio.gather(*pending), 60)
        finally:
            await nc.close()
        published = time.monotonic()
        deadline = time.monotonic() + max(300.0, count / 50)
        while len(_ingested(system.ingest.log_text(), FUZZ_DEVICE)) < count:
            if time.monotonic() > deadline or not system.ingest.alive:
                problems.append("ingest did not process every malformed message")
                break
            await asyncio.sleep(1.0)
        drained = time.monotonic()
        lines = _ingested(system.ingest.log_text(), FUZZ_DEVICE)
        silent = sum(1 for x in lines if x["quarantined"] == 0)
        accepted = sum(x["committed"] + x["held"] for x in lines)
        if silent or accepted:
            problems.append(f"{silent} messages not quarantined, {accepted} events accepted")
        serving = system.ingest.alive and system.projector.alive
        for d in system.devices:  # still serving: fresh events of real devices sync
            await system.record(d, 50)
        await system.converge(timeout_s=240)
        serving = serving and system.ingest.starts == 1 and system.projector.starts == 1
        if not serving:
            problems.append("ingest or projector died during the fuzzing")
        with system.store.engine.connect() as conn:
            reasons = dict(
                conn.execute(
                    sa.select(quarantine.c.reason, sa.func.count())
                    .where(quarantine.c.device_id == FUZZ_DEVICE)
                    .group_by(quarantine.c.reason)
                ).all()
            )
        verdict = await judge(system)
    finally:
        fuzz.close()
        await system.close()
    quarantined_messages = len(lines) - silent
    return result(
        "malformed",
        budget,
        started,
        count,
        verdict,
        detected=quarantined_messages,
        to_detect=count,
        notes=f"{generated} Hypothesis-generated + {count - generated} random-byte messages",
        detail={
            "reasons": reasons,
            "hellos_answered": hellos_answered,
            "hellos_sent": -(-count // 200),
            "generate_s": round(made - started, 1),
            "publish_s": round(published - made, 1),
            "ingest_msgs_per_s": round(count / max(drained - made, 1e-3)),
            "serving_after": serving,
            "problems": problems,
        },
    )


async def replay(budget: Budget, root: Path) -> Result:
    """Capture every valid upload message on the wire, then re-publish all of them later (as
    an attacker would, under fresh message ids that JetStream cannot de-duplicate) while the
    devices keep recording: no effect on the store, every replayed event counted."""
    started, rng = time.monotonic(), random.Random(budget.seed)
    runs = budget.count(3, 20)
    system = await System(root, device_count=2).start()
    captured: list[tuple[str, bytes]] = []

    async def capture(msg: Msg) -> None:
        captured.append((msg.subject, msg.data))

    nc = await nats.connect(system.nats.url)
    replayed = 0
    try:
        sub = await nc.subscribe("kop.up.>", cb=capture)
        for d in system.devices:
            await system.record(d, budget.per_device(200, 1000))
        await system.converge()
        await sub.unsubscribe()
        js = nc.jetstream()
        baseline = _duplicates(system)  # re-sends of the devices' own (head starts) count too
        for run in range(runs):
            before = _duplicates(system)
            events = 0
            for i, (subject, data) in enumerate(rng.sample(captured, len(captured))):
                await js.publish(subject, data, headers={"Nats-Msg-Id": f"attack-{run}-{i}"})
                events += len(decode_batch(data).events)
            for d in system.devices:
                await system.record(d, 30)
            await system.converge(
                committed=lambda b=before, n=events: (
                    system.all_committed() and _duplicates(system) >= b + n
                )
            )
            replayed += events
        counted = _duplicates(system) - baseline
        verdict = await judge(system)
    finally:
        await nc.close()
        await system.close()
    # Every replayed event must be counted; the devices' own re-sends may add a few more.
    return result(
        "replay",
        budget,
        started,
        runs,
        verdict,
        detected=min(counted, replayed),
        to_detect=replayed,
        notes="every captured upload re-published each run under a fresh Nats-Msg-Id",
        detail={
            "messages_captured": len(captured),
            "duplicates_counted": counted,
            "events_replayed": replayed,
        },
    )


def _duplicates(system: System) -> int:
    with system.store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(devices.c.duplicates), 0))
            ).scalar_one()
        )
