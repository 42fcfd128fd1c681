"""Fault-injection suite: the whole system (edge agents, nats-server, ingest, projector) under
the faults a rural deployment meets, judged by an oracle built from the edge logs.

    python benchmarks/fault_suite.py                       # every scenario, short mode (CI)
    python benchmarks/fault_suite.py --long                # long mode, incl. the 10-minute soak
    python benchmarks/fault_suite.py --scenario process_kill --runs 500 --seed 7
    python benchmarks/fault_suite.py --scenario soak --duration 600
    python benchmarks/fault_suite.py --write-doc           # refresh docs/RELIABILITY.md's table

Scenarios (tests/fault/): process_kill, nats_loss, link_faults, disk_full, corruption,
clock_skew, malformed, replay, soak. ``--runs`` is the scenario's count (faults, restarts,
corruptions, malformed messages, replay rounds), ``--events`` the events recorded per
device and step, ``--duration`` the soak's seconds. Each scenario prints one line on stderr;
stdout gets one JSON document with every result (and --out writes it). The exit status is 1
if any scenario failed. The seed is printed with each result, so a failure reproduces.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the harness lives with the tests it shares code with

from fault.common import Budget, Result  # noqa: E402
from fault.suite import SCENARIOS, SHORT, splice  # noqa: E402

DOC = ROOT / "docs" / "RELIABILITY.md"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--long", action="store_true", help="long mode (larger counts, the soak)")
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable")
    p.add_argument("--runs", type=int, help="the scenario's count (see above)")
    p.add_argument("--events", type=int, help="events recorded per device and step")
    p.add_argument("--duration", type=float, help="seconds of the soak")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    p.add_argument("--keep", type=Path, help="work in this directory and keep it (logs, dbs)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--write-doc", action="store_true", help=f"refresh the table in {DOC.name}")
    return p.parse_args(argv)


async def run_all(args: argparse.Namespace, workdir: Path) -> list[Result]:
    names = args.scenario or (list(SCENARIOS) if args.long else SHORT)
    budget = Budget(args.long, args.runs, args.events, args.duration, args.seed)
    results = []
    for name in names:
        print(f"fault {name}: starting (seed {args.seed})", file=sys.stderr)
        res = await SCENARIOS[name](budget, workdir / name)
        print(res.summary(), file=sys.stderr)
        results.append(res)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(run_all(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="kop-fault-") as tmp:
            results = asyncio.run(run_all(args, Path(tmp)))
    text = json.dumps([r.to_json() for r in results], indent=2, default=str)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.write_doc:
        DOC.write_text(splice(DOC.read_text(), [r for r in results if not r.detail.get("skipped")]))
        print(f"refreshed {DOC}", file=sys.stderr)
    return 0 if all(r.ok or r.detail.get("skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
