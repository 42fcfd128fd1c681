"""Which modules a kopsync command loads: a device's commands never load the central's code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CENTRAL = ("central_projector", "sqlalchemy", "alembic")

# Runs the real entry point in a fresh interpreter and prints, at exit, every module it loaded.
PROBE = """
import atexit, json, sys
loaded = lambda: sorted(name for name, module in sys.modules.items() if module is not None)
atexit.register(lambda: print(json.dumps(loaded()), file=sys.stderr))
sys.argv = ["kopsync", *json.loads(sys.argv[1])]
from kopsync.cli.main import main
main()
"""


def loaded_modules(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-P", "-c", PROBE, json.dumps(args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = proc.stderr.strip().splitlines()[-1]
    return proc.returncode, set(json.loads(last))


def central_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in CENTRAL)


def test_version_loads_no_command_group(tmp_path: Path) -> None:
    """`kopsync --version` imports none of the command groups, and nothing of the central."""
    code, modules = loaded_modules(["--version"], tmp_path)
    assert code == 0
    assert central_among(modules) == []
    assert not any(m.startswith(("kopsync.cli.edge", "edge_agent", "nats")) for m in modules)


@pytest.mark.parametrize(
    "args",
    [
        ["edge", "init", "--coop", "6401050012", "--device", "pb-1"],
        ["edge", "stock", "receive", "BRS-5KG", "--qty", "5", "--supplier", "Bulog", "--doc", "D1"],
        ["edge", "sale", "record", "--line", "BRS-5KG:2:72500"],
        ["edge", "status", "--json"],
        ["edge", "log"],
    ],
    ids=["init", "stock-receive", "sale-record", "status", "log"],
)
def test_edge_commands_load_no_central_code(tmp_path: Path, args: list[str]) -> None:
    """Every step of a counter's day loads no central code, SQLAlchemy, Alembic or nats-py."""
    data = ["--data", str(tmp_path / "kasir")]
    if args[1] != "init":
        init = ["edge", "init", "--coop", "6401050012", "--device", "pb-1", *data]
        assert loaded_modules(init, tmp_path)[0] == 0
        receive = ["edge", "stock", "receive", "BRS-5KG", "--qty", "5"]
        assert loaded_modules([*receive, "--supplier", "B", "--doc", "D0", *data], tmp_path)[0] == 0
    code, modules = loaded_modules([*args, *data], tmp_path)
    assert code == 0
    assert central_among(modules) == []
    assert not any(m.split(".")[0] == "nats" for m in modules), "a teller command loaded nats-py"


def test_edge_run_loads_no_central_code(tmp_path: Path) -> None:
    """Even the replicating `edge run` (here refused for a missing store), its settings read
    from a --config file, loads no central code, and no rich (structlog's console tracebacks
    would load it: 4 MB of a device's memory)."""
    conf = tmp_path / "edge.toml"
    conf.write_text('nats = "nats://127.0.0.1:1"\n[edge-run]\ndata = "none"\n')
    code, modules = loaded_modules(["edge", "run", "--config", str(conf)], tmp_path)
    assert code != 0
    assert {"kopsync.cli.edge.sync", "kopsync.cli.edge.settings", "structlog"} <= modules
    assert central_among(modules) == []
    assert "rich" not in modules


def test_help_still_lists_every_group(tmp_path: Path) -> None:
    """Lazy loading hides nothing: `kopsync --help` lists every group, `edge --help` its all."""
    top = subprocess.run(
        [sys.executable, "-P", "-m", "kopsync", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    for group in ("admin", "central", "demo", "edge", "partner", "schemas"):
        assert f"  {group} " in top.stdout
    edge = subprocess.run(
        [sys.executable, "-P", "-m", "kopsync", "edge", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    for command in ("run", "sync", "sale", "savings", "status"):
        assert f"  {command} " in edge.stdout
