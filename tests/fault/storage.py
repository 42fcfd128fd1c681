"""Scenarios of bad storage: a full edge disk, corrupted rows in an edge store and in the
central store."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import msgpack
import sqlalchemy as sa

from central_projector.record.tables import events, quarantine
from fault.common import Budget, Result, judge, result
from fault.oracle import Key
from fault.system import KOPSYNC, System


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KOPSYNC, *args], capture_output=True, text=True, timeout=120)


def _mount(path: Path, size_kib: int, *, remount: bool = False) -> None:
    opts = f"{'remount,' if remount else ''}size={size_kib}k"
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True, capture_output=True
    )


def _used_kib(path: Path) -> int:
    out = subprocess.run(["df", "-k", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.splitlines()[-1].split()[2])


async def disk_full(budget: Budget, root: Path) -> Result:
    """An edge data directory on a small tmpfs fills up while ``kopsync edge simulate``
    records: one clear ``error:`` line, no traceback, every acknowledged event kept and the
    chain intact; after the file system grows, recording and syncing carry on."""
    started = time.monotonic()
    runs = budget.count(1, 4)
    disk = root / "small-disk"
    disk.mkdir(parents=True)
    try:
        _mount(disk, 65536)
    except (subprocess.CalledProcessError, OSError) as exc:
        return Result(
            "disk_full",
            0,
            0,
            0,
            0,
            seed=budget.seed,
            notes=f"skipped: {exc}",
            detail={"skipped": True},
        )
    problems: list[str] = []
    clear = 0
    fills: list[dict[str, Any]] = []
    try:
        system = await System(root / "system", device_count=1).start([disk / "device-0"])
        device = system.devices[0]
        try:
            await system.record(device, budget.per_device(200, 1000))
            await system.converge()
            for run in range(runs):
                _mount(disk, _used_kib(disk) + 768, remount=True)
                acked, failure = device.head(), None
                for _ in range(400):
                    done = await asyncio.to_thread(
                        _cli,
                        "edge",
                        "simulate",
                        "--events",
                        "40",
                        "--data",
                        str(device.data),
                        "--json",
                    )
                    if done.returncode != 0:
                        failure = done
                        break
                    acked = json.loads(done.stdout)["last_seq"]
                if failure is None:
                    problems.append(f"run {run}: the disk never filled")
                    continue
                err = failure.stderr.strip()
                ok_error = err.startswith("error:") and "disk is full" in err and "\n" not in err
                check = await asyncio.to_thread(
                    _cli, "edge", "verify", "--data", str(device.data), "--json"
                )
                report = json.loads(check.stdout or "{}")
                kept = device.head() >= acked and check.returncode == 0 and report.get("ok")
                clear += bool(ok_error and kept and "Traceback" not in failure.stderr)
                # A one-shot sync on the full disk (it writes its sync positions): it may
                # succeed or fail, but with one clear line, never a traceback.
                sync = await asyncio.to_thread(
                    _cli, "edge", "sync", "--nats", system.nats.url, "--data", str(device.data),
                    "--timeout", "20",
                )  # fmt: skip
                if "Traceback" in sync.stderr or (
                    sync.returncode not in (0, 3) and not sync.stderr.startswith("error:")
                ):
                    problems.append(f"run {run}: edge sync on a full disk: {sync.stderr[-300:]}")
                fills.append(
                    {
                        "acked_seq": acked,
                        "error": err[:200],
                        "verify": report,
                        "sync_on_full_disk": [sync.returncode, sync.stderr.strip()[:200]],
                    }
                )
                _mount(disk, _used_kib(disk) + 65536, remount=True)
                again = await asyncio.to_thread(
                    _cli, "edge", "simulate", "--events", "100", "--data", str(device.data)
                )
                if again.returncode != 0:
                    problems.append(f"run {run}: recording after recovery failed: {again.stderr}")
                await system.converge(timeout_s=180)
            verdict = await judge(system)
            if "Traceback" in device.run.log_text():
                problems.append("edge run printed a traceback")
        finally:
            await system.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    return result(
        "disk_full",
        budget,
        started,
        runs,
        verdict,
        detected=clear,
        to_detect=runs,
        notes="edge data directory on a tmpfs shrunk to 768 KiB of headroom; detected = clear "
        "error and intact log",
        detail={"fills": fills, "problems": problems},
    )


def tamper_edge(db: Path, device_id: str, seq: int) -> None:
    """Flip one bit of a stored envelope's signature (as a bad sector would)."""
    conn = sqlite3.connect(db)
    try:
        (state,) = conn.execute(
            "SELECT state FROM device_events WHERE originator_id=? AND originator_version=?",
            (device_id, seq),
        ).fetchone()
        wire = msgpack.unpackb(state, raw=False)
        # The signature, not a business field: the simulator that records the next events
        # reads ids back from the log, and a changed id would only confuse it.
        sig = bytearray(wire["sig"])
        sig[0] ^= 0x01
        wire["sig"] = bytes(sig)
        conn.execute(
            "UPDATE device_events SET state=? WHERE originator_id=? AND originator_version=?",
            (msgpack.packb(wire, use_bin_type=True), device_id, seq),
        )
        conn.commit()
    finally:
        conn.close()


def tamper_central(engine: sa.Engine, kind: str, device_id: str, seq: int) -> list[Any]:
    """Corrupt committed row(s) of ``device_id`` at ``seq``; return the originals to restore."""
    cols = [c for c in events.c if c.name != "id"]
    with engine.begin() as conn:
        rows = (
            conn.execute(
                sa.select(events)
                .where(events.c.device_id == device_id, events.c.seq.in_([seq, seq + 1]))
                .order_by(events.c.seq)
            )
            .mappings()
            .all()
        )
        originals = [dict(r) for r in rows]
        a = originals[0]
        where = (events.c.device_id == device_id) & (events.c.seq == seq)
        if kind == "flip":
            data = bytearray(a["envelope"])
            data[len(data) // 2] ^= 0x5A
            conn.execute(sa.update(events).where(where).values(envelope=bytes(data)))
        elif kind == "hash":
            conn.execute(sa.update(events).where(where).values(hash=b"\x07" * 32))
        elif kind == "delete":
            conn.execute(sa.delete(events).where(where))
        else:  # swap the contents of two neighbouring rows
            b = originals[1]
            for row, other in ((a, b), (b, a)):
                conn.execute(
                    sa.update(events)
                    .where(events.c.id == row["id"])
                    .values(
                        {c.name: other[c.name] for c in cols if c.name not in ("device_id", "seq")}
                    )
                )
    return originals


def restore_central(engine: sa.Engine, originals: list[Any]) -> None:
    with engine.begin() as conn:
        for row in originals:
            conn.execute(sa.delete(events).where(events.c.id == row["id"]))
            conn.execute(sa.insert(events).values(**row))


async def corruption(budget: Budget, root: Path) -> Result:
    """Each run corrupts one not-yet-uploaded row of an edge store (``edge verify`` must name
    it; the central must quarantine it and never commit it) and one committed row of the
    central store (``central verify`` must name it; then it is put back)."""
    started, rng = time.monotonic(), random.Random(budget.seed)
    runs = budget.count(2, 20)
    system = await System(root, device_count=2, gap_timeout_s=2.0).start()
    excluded: list[Key] = []
    found = {"edge_verify": 0, "central_quarantine": 0, "central_verify": 0}
    log: list[str] = []
    try:
        for d in system.devices:
            await system.record(d, budget.per_device(100, 500))
        await system.converge()
        for run in range(runs):
            device = system.devices[run % len(system.devices)]
            await asyncio.to_thread(device.run.stop)
            await system.record(device, 20)
            head = device.head()
            seq = rng.randint(head - 19, head - 1)
            tamper_edge(device.data / "edge.db", device.device_id, seq)
            excluded.append((device.device_id, seq))
            check = await asyncio.to_thread(
                _cli, "edge", "verify", "--data", str(device.data), "--json"
            )
            found["edge_verify"] += check.returncode == 1 and seq in {
                b["seq"] for b in json.loads(check.stdout)["bad"]
            }
            device.run.start()
            await system.converge(timeout_s=120, committed=lambda: _all_but(system, excluded))
            found["central_quarantine"] += _quarantined(system, device.device_id, seq)

            victim = rng.choice(system.devices)
            vseq = rng.randint(1, 50)
            kind = ["flip", "swap", "delete", "hash"][run % 4]
            originals = await asyncio.to_thread(
                tamper_central, system.store.engine, kind, victim.device_id, vseq
            )
            report = await asyncio.to_thread(
                _cli, "central", "verify", "--db", system.db_url, "--json"
            )
            named = {(b["device_id"], b["seq"]) for b in json.loads(report.stdout)["bad"]}
            hit = report.returncode == 1 and bool(
                named & {(victim.device_id, vseq), (victim.device_id, vseq + 1)}
            )
            found["central_verify"] += hit
            log.append(
                f"{run}: edge {device.device_id}:{seq}; "
                f"central {kind} {victim.device_id}:{vseq} -> {sorted(named)}"
            )
            await asyncio.to_thread(restore_central, system.store.engine, originals)
        clean = await asyncio.to_thread(_cli, "central", "verify", "--db", system.db_url)
        verdict = await judge(system, excluded)
    finally:
        await system.close()
    problems = [] if clean.returncode == 0 else [f"central verify after restore: {clean.stderr}"]
    return result(
        "corruption",
        budget,
        started,
        runs,
        verdict,
        detected=sum(found.values()),
        to_detect=3 * runs,
        notes="edge row signature bit flipped before upload; central row "
        "flipped / hash changed / deleted / swapped",
        detail={"found": found, "log": log, "problems": problems},
    )


def _all_but(system: System, excluded: list[Key]) -> bool:
    """Every edge event except the corrupted ones is committed centrally."""
    with system.store.engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.select(events.c.device_id, sa.func.count())
                .where(events.c.status == "committed")
                .group_by(events.c.device_id)
            ).all()
        )
    return all(
        counts.get(d.device_id, 0) >= d.head() - sum(1 for k in excluded if k[0] == d.device_id)
        for d in system.devices
    )


def _quarantined(system: System, device_id: str, seq: int) -> bool:
    with system.store.engine.connect() as conn:
        return bool(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(quarantine)
                .where(quarantine.c.device_id == device_id, quarantine.c.seq == seq)
            ).scalar()
        )
