"""Which processes are still alive (for tests of clean shutdown)."""

from __future__ import annotations

import os
from pathlib import Path


def processes_using(work: Path, *, but: int | None = None) -> list[str]:
    """Command lines of live processes that name ``work`` (the demo's children all do), other
    than this one and ``but``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in (os.getpid(), but):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(work) in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found
