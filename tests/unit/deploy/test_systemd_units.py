"""deploy/systemd: every unit passes `systemd-analyze verify` and scores ≤ 3.0 on `security`.

Run where systemd-analyze exists (skipped with the reason otherwise). `verify` runs against a
throw-away root holding the system's own units, our units and a stand-in for the kopsync
executable, so it checks our files rather than this machine's installation.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
ANALYZE = shutil.which("systemd-analyze")
SYSTEM_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    None,
)
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(path)
    return unit


def test_every_kopsync_service_has_a_unit() -> None:
    """The edge agent, ingest, projector and partner fan-out each have a unit running kopsync."""
    assert {u.stem for u in UNITS} == {
        "kopsync-edge",
        "kopsync-ingest",
        "kopsync-projector",
        "kopsync-fanout",
    }
    for path in UNITS:
        service = _unit(path)["Service"]
        assert service["ExecStart"].startswith("/opt/kopsync/.venv/bin/kopsync ")
        assert service["User"] == "kopsync" and service["NoNewPrivileges"] == "true"


def test_the_central_units_read_a_documented_environment() -> None:
    """central.env sets what the three central units need, each variable documented."""
    keys = {
        line.split("=", 1)[0]
        for line in (SYSTEMD / "central.env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert keys == {
        "KOPSYNC_DB_URL",
        "KOPSYNC_NATS_URL",
        "KOPSYNC_NATS_TLS_CA",
        "KOPSYNC_NATS_NKEY",
    }
    readme = (SYSTEMD.parent / "README.md").read_text()
    for name in ("kopsync-ingest", "kopsync-projector", "kopsync-fanout"):
        assert _unit(SYSTEMD / f"{name}.service")["Service"]["EnvironmentFile"] == (
            "/etc/kopsync/central.env"
        )
        assert name in readme
    for key in keys:
        assert key in readme


@needs_analyze
@pytest.mark.skipif(SYSTEM_UNITS is None, reason="no system unit directory to verify against")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts every unit without a warning."""
    assert ANALYZE is not None and SYSTEM_UNITS is not None
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for path in UNITS:
        shutil.copy(path, root / "etc/systemd/system" / path.name)
        exe = root / _unit(path)["Service"]["ExecStart"].split()[0].lstrip("/")
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    result = subprocess.run(
        [ANALYZE, "verify", f"--root={root}", *(p.name for p in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if "kopsync" in line], output


@needs_analyze
@pytest.mark.parametrize("path", UNITS, ids=[u.stem for u in UNITS])
def test_units_are_confined(path: Path) -> None:
    """`systemd-analyze security --offline=true` scores each unit at most 3.0 (OK)."""
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no offline security review (systemd < 250)")
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 3.0, result.stdout
