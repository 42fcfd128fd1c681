"""The README's first session by hand runs as written, top to bottom."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from support.procs import processes_using

ROOT = Path(__file__).resolve().parents[2]
README_PORT = "4222"


def session_blocks() -> list[str]:
    """The ``sh`` blocks of the README's section "A first session by hand"."""
    text = (ROOT / "README.md").read_text()
    start = text.index("## A first session by hand")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    assert len(blocks) == 2, blocks
    return blocks


def _free_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_the_readme_session_runs_as_written(tmp_path: Path) -> None:
    """Both blocks, with the venv's bin on PATH (as activated) and the NATS port swapped for
    a free one, exit 0; the central shows the sale and every started process is gone."""
    script = "set -e\n" + "\n".join(session_blocks())
    script = script.replace(f":{README_PORT}", f":{(port := _free_port())}")
    script = script.replace(f"-p {README_PORT} ", f"-p {port} ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.Popen(
        ["bash", "-c", script], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, (out + err)[-3000:]
    assert "central confirmed seq 4 of 4" in out
    assert "Cooperative 6472021005" in out and "lempake-1" in out
    assert "Traceback" not in err
    assert processes_using(tmp_path) == []


def test_human_output_has_local_times_plurals_and_no_raw_values(tmp_path: Path) -> None:
    """Text output (edge status, central show coop and status) writes times as local ISO in
    the cooperative's zone, agrees its plurals, and prints no dict and no epoch ms."""
    script = "set -e\n" + "\n".join(session_blocks())
    script = script.replace(f":{README_PORT}", f":{(port := _free_port())}")
    script = script.replace(f"-p {README_PORT} ", f"-p {port} ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=300, start_new_session=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "{'" not in out and "None" not in out
    assert not re.search(r"\b1\d{12}\b", out), "an epoch-ms time in text output"
    assert re.search(r"last_contact +never\n", out)  # the device has not synced yet
    assert re.search(r"hlc +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WITA, counter \d", out)
    assert "over 1 day\n" in out and "1 member (1 registered)" in out
    assert re.search(r"lempake-1 +4 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WITA", out)
