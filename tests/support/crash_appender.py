"""Append to a device store forever, printing each seq only after ``record`` returned.

Run as a subprocess by the crash-safety test, which SIGKILLs it at random moments.
Usage: python crash_appender.py DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge_agent.app.agent import EdgeAgent


def main() -> None:
    data_dir = Path(sys.argv[1])
    with EdgeAgent(data_dir) as agent:
        print("ready", flush=True)
        n = agent.head().seq
        while True:
            n += 1
            env = agent.record(
                "StockReceived",
                {
                    "sku": f"SKU-{n % 17}",
                    "qty": 1 + n % 5,
                    "location": "gudang",
                    "supplier": "Bulog Kaltim",
                    "doc_no": f"DO-{n}",
                },
                f"SKU-{n % 17}",
            )
            # Only now, after the commit returned, is the event acknowledged.
            sys.stdout.write(f"{env.seq} {env.event_id}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
