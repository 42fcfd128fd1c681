"""One `--log-format json|console` flag on every service; the flags it replaced still work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kopsync.cli.main import cli

COOP = "6472021005-LMP"
SERVICES = [
    ("central", "ingest"),
    ("central", "project"),
    ("central", "project-worker"),
    ("central", "console"),
    ("partner", "fanout"),
    ("edge", "run"),
    ("edge", "serve"),
]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: " ".join(s))
def test_every_service_takes_log_format(service: tuple[str, str]) -> None:
    """Each service's help offers --log-format json|console and hides the older flags."""
    out = CliRunner().invoke(cli, [*service, "--help"]).output
    assert "--log-format [json|console]" in out
    assert "--log-json" not in out and "--log-console" not in out


def _first_log_line(data: Path, *flags: str) -> str:
    """The first log line of `edge run` against a port where nothing listens."""
    cmd = [sys.executable, "-P", "-m", "kopsync", "edge", "run", "--data", str(data),
           "--nats", "nats://127.0.0.1:1", *flags]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        return proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait()


def test_log_format_json_console_and_the_old_flag(tmp_path: Path) -> None:
    """--log-format json writes JSON lines, console readable ones, and --log-json is json."""
    data = tmp_path / "kasir-1"
    init = CliRunner().invoke(
        cli, ["edge", "init", "--coop", COOP, "--device", "kasir-1", "--data", str(data)]
    )
    assert init.exit_code == 0, init.output
    assert "event" in json.loads(_first_log_line(data, "--log-format", "json"))
    assert "event" in json.loads(_first_log_line(data, "--log-json"))
    with pytest.raises(json.JSONDecodeError):
        json.loads(_first_log_line(data, "--log-format", "console"))
