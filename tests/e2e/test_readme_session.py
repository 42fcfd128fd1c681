"""The README's first session by hand runs as written, top to bottom."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@dataclass(frozen=True)
class Session:
    returncode: int
    out: str
    err: str
    left_running: list[str]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """Both blocks run once, with the venv's bin on PATH (as activated) and the NATS port
    swapped for a free one.

    Output goes to files, not pipes: when a command fails, the processes the script started
    in the background still hold its stdout, and reading a pipe would wait for them until the
    timeout instead of showing what failed. The session's process group is killed after.
    """
    workdir = tmp_path_factory.mktemp("readme-session")
    script = "set -e\n" + "\n".join(session_blocks())
    script = script.replace(f":{README_PORT}", f":{(port := _free_port())}")
    script = script.replace(f"-p {README_PORT} ", f"-p {port} ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    out_file, err_file = workdir.parent / "session.out", workdir.parent / "session.err"
    with out_file.open("w") as out, err_file.open("w") as err:
        proc = subprocess.Popen(["bash", "-c", script], cwd=workdir, env=env, text=True,
                                stdout=out, stderr=err, start_new_session=True)  # fmt: skip
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            pass
        finally:
            left = _left_in_group(proc.pid, within_s=15)  # `kill %2 %1` asked them to stop
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return Session(proc.returncode, out_file.read_text(), err_file.read_text(), left)


def _left_in_group(pgid: int, *, within_s: float) -> list[str]:
    """Command lines of the group's live processes once ``within_s`` has passed or none is left."""
    deadline = time.monotonic() + within_s
    while True:
        left = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat[2]) == pgid and stat[0] != "Z":  # fields after the name: state, ppid, pgrp
                left.append(f"{entry.name}: {cmdline}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_the_readme_session_runs_as_written(session: Session) -> None:
    """Both blocks exit 0; the central shows the sale and every started process is gone."""
    assert session.returncode == 0, (session.out + session.err)[-3000:]
    out, err = session.out, session.err
    assert "central confirmed seq 4 of 4" in out
    assert "Cooperative 6472021005" in out and "lempake-1" in out
    assert "Traceback" not in err
    assert session.left_running == []


def test_human_output_has_local_times_plurals_and_no_raw_values(session: Session) -> None:
    """Text output (edge status, central show coop and status) writes times as local ISO in
    the cooperative's zone, agrees its plurals, and prints no dict and no epoch ms."""
    assert session.returncode == 0, (session.out + session.err)[-3000:]
    out = session.out
    assert "{'" not in out and "None" not in out
    assert not re.search(r"\b1\d{12}\b", out), "an epoch-ms time in text output"
    assert re.search(r"last_contact +never\n", out)  # the device has not synced yet
    assert re.search(r"hlc +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WITA, counter \d", out)
    assert "over 1 day\n" in out and "1 member (1 registered)" in out
    assert re.search(r"lempake-1 +4 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WITA", out)
