"""The README's first command, as written, in a fresh virtual environment."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from support.procs import processes_using

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.egg-info", ".*_cache", "build", "kopsync-*"
)


def readme_first_command() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The two commands") :]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block is not None
    return block.group(1).strip()


def test_readme_first_command_runs_the_demo_in_a_fresh_venv(tmp_path: Path) -> None:
    """The install part of the README's first command works in a fresh virtual environment
    (packages from the registry) and `kopsync demo` then runs from it, leaving no process."""
    command = readme_first_command()
    install, _, run = command.rpartition(" && ")
    assert run == ".venv/bin/kopsync demo", command
    checkout = tmp_path / "kopsync"
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCE)
    done = subprocess.run(
        ["bash", "-c", install], cwd=checkout, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    work = tmp_path / "run"
    small = ["--cooperatives", "4", "--events", "60", "--dir", str(work), "--json"]
    demo = subprocess.run(
        [*run.split(), *small], cwd=checkout, capture_output=True, text=True, timeout=300
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    summary = json.loads(demo.stdout)
    assert all(p["found"] for p in summary["planned_conflicts"]), summary["planned_conflicts"]
    assert summary["totals"]["committed"] == summary["totals"]["recorded"] > 0
    assert processes_using(work) == []
