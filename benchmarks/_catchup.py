"""The sync catch-up benchmark's instruments: a replicator that times its hellos and
acknowledgements, the JSON baseline, the comparison of device and central, the device's log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from nats.aio.msg import Msg

from central_projector.record.store import CentralStore
from central_projector.record.tables import devices
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.replicator import Replicator
from edge_agent.devtools.linkemu import LinkEmulator
from sync_core import codec, subjects
from sync_core.transport import ConnectOptions, TlsFiles, connected

# A made-up village code within Seruyan (6208), Central Kalimantan.
COOP, DEVICE = "6208031004", "kasir-seruyan-1"


class TimedReplicator(Replicator):
    """The stock replicator, timing its hellos and each batch's JetStream acknowledgement."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acks: list[float] = []
        self.hellos: list[tuple[float, float]] = []
        # Its parts' methods wrapped, only to observe: neither moment reaches a public API.
        hello, publish = self.handshake.hello, self.uploader.publish

        async def timed_hello(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            result = await hello(*args, **kwargs)
            self.hellos.append((started, time.monotonic()))
            return result

        async def timed_publish(*args: Any, **kwargs: Any) -> Any:
            result = await publish(*args, **kwargs)
            self.acks.append(time.monotonic())
            return result

        self.handshake.hello = timed_hello  # type: ignore[method-assign]
        self.uploader.publish = timed_publish  # type: ignore[method-assign]


def committed_seq(store: CentralStore) -> int:
    with store.engine.connect() as conn:
        value = conn.execute(
            sa.select(devices.c.committed_seq).where(devices.c.device_id == DEVICE)
        ).scalar()
    return int(value or 0)


def json_body(envelope: bytes) -> bytes:
    """One envelope as the JSON a naive design would send: its map, bytes as hex, compact."""

    def hexed(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, dict):
            return {str(k): hexed(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [hexed(v) for v in value]
        return value

    return json.dumps(hexed(codec.decode(envelope)), separators=(",", ":")).encode()


async def json_baseline(
    link: LinkEmulator,
    server_url: str,
    log: list[bytes],
    sample: int,
    tls: TlsFiles | None = None,
    link_url: str | None = None,
) -> dict[str, Any]:
    """Upstream bytes per event with one JSON core publish per event, through ``link``.

    The end is seen by a subscriber next to the server: nats-py's ``flush`` writes its PING
    ahead of the publishes still buffered, so its PONG would come back before they crossed.
    """
    upload = subjects.upload(COOP, DEVICE)
    subject = "kop.jb" + upload[len("kop.up") :]  # same length; no stream captures it
    bodies = [json_body(e) for e in log]
    framing = [len(f"PUB {subject} {len(b)}\r\n") + len(b) + 2 for b in bodies]
    picked = [bodies[i * len(bodies) // sample] for i in range(min(sample, len(bodies)))]
    arrived = asyncio.Event()
    count = 0

    async def on_msg(_: Msg) -> None:
        nonlocal count
        count += 1
        if count == len(picked):
            arrived.set()

    async with (
        connected(ConnectOptions.for_url(server_url, name="bench-watch", tls=tls)) as watcher,
        connected(
            ConnectOptions.for_url(link_url or link.url, name="bench-json", tls=tls)
        ) as sender,
    ):
        await watcher.nc.subscribe(subject, cb=on_msg)
        await watcher.nc.flush()
        await sender.nc.flush(timeout=10)
        before, started = link.bytes_up, time.monotonic()
        for body in picked:
            await sender.nc.publish(subject, body)
        await asyncio.wait_for(arrived.wait(), 600)
        sent = link.bytes_up - before
    return {
        "json_bytes_per_event": sent / len(picked),
        "json_sample": len(picked),
        "json_seconds": round(time.monotonic() - started, 2),
        "json_bytes_per_event_all": statistics.fmean(framing),
        "json_body_bytes_per_event_all": statistics.fmean(len(b) for b in bodies),
    }


def compare(agent: EdgeAgent, store: CentralStore) -> dict[str, int]:
    """The central's committed rows against the device's log, per seq, byte for byte."""
    local = {seq: bytes(data) for seq, data in agent.store.raw_events()}
    rows = store.committed(DEVICE)
    central = dict(rows)
    status = {r["device_id"]: r for r in store.device_status()}[DEVICE]
    return {
        "lost": sum(1 for seq in local if seq not in central),
        "duplicated": len(rows) - len(central),
        "mismatched": sum(1 for s, d in local.items() if s in central and central[s] != d),
        "extra": len(set(central) - set(local)),
        "held": int(status["held"]),
        "central_duplicates_absorbed": int(status["duplicates"]),
    }


def log_events(path: Path) -> list[str]:
    names: list[str] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict) and isinstance(doc.get("event"), str):
                    names.append(doc["event"])
    return names


def configure_device_log(path: Path) -> None:
    """The replicator's log goes to a file: stdout carries the JSON result only."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=path.open("a")),
        cache_logger_on_first_use=True,
    )
