"""A service's settings: flags over KOPSYNC_* variables over the --config TOML file over the
defaults, resolved once; a bad file is one `error:` line naming the file and the key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from support.console import wait_http
from support.nats import NatsServer

from kopsync.cli.central import ingest
from kopsync.cli.central.console import console
from kopsync.cli.central.project import project
from kopsync.cli.edge.hub import hub_command
from kopsync.cli.edge.sync import run_command
from kopsync.cli.partner import fanout
from kopsync.devnats import free_port


def kopsync(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process, with no KOPSYNC_* variable of the caller's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_")}
    return subprocess.run(
        [sys.executable, "-P", "-m", "kopsync", *args],
        cwd=cwd, env=base | (env or {}), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def resolved(
    command: click.Command, args: list[str], monkeypatch: pytest.MonkeyPatch, **env: str
) -> dict[str, Any]:
    """The command's options as click resolves them for ``args`` and ``env`` (not run)."""
    for name in list(os.environ):
        if name.startswith("KOPSYNC_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with command.make_context(command.name or "cmd", list(args)) as ctx:  # it eats the list
        return dict(ctx.params)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_flag_beats_variable_beats_file_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each source wins over the ones below it, option by option."""
    conf = write(tmp_path / "kopsync.toml", 'nats = "nats://file:4222"\npartitions = 4\n')
    base = ["--config", str(conf)]
    assert resolved(ingest, ["--nats", "nats://x:1"], monkeypatch)["partitions"] is None
    got = resolved(ingest, base, monkeypatch)
    assert (got["partitions"], got["nats_url"]) == (4, "nats://file:4222")
    got = resolved(ingest, base, monkeypatch, KOPSYNC_INGEST_PARTITIONS="6")
    assert (got["partitions"], got["nats_url"]) == (6, "nats://file:4222")
    got = resolved(
        ingest, [*base, "--partitions", "8"], monkeypatch, KOPSYNC_INGEST_PARTITIONS="6",
        KOPSYNC_NATS_URL="nats://env:4222",
    )  # fmt: skip
    assert (got["partitions"], got["nats_url"]) == (8, "nats://env:4222")


def test_a_command_table_wins_over_the_top_level_and_other_tables_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file serves several processes: [central-project] is the projector's only."""
    conf = write(
        tmp_path / "kopsync.toml",
        'db = "sqlite:///top.db"\nlog-format = "console"\nnats = "nats://n:4222"\n'
        '[central-project]\nlog-format = "json"\nbatch = 700\n'
        '[central-ingest]\npartitions = 3\n[edge-run]\nhttp = "127.0.0.1:8470"\n',
    )
    p = resolved(project, ["--config", str(conf)], monkeypatch)
    assert (p["db_url"], p["log_format"], p["batch_size"]) == ("sqlite:///top.db", "json", 700)
    i = resolved(ingest, ["--config", str(conf)], monkeypatch)
    assert (i["db_url"], i["log_format"], i["partitions"]) == ("sqlite:///top.db", "console", 3)
    c = resolved(console, [], monkeypatch, KOPSYNC_CONFIG=str(conf))
    assert c["db_url"] == "sqlite:///top.db"


def test_relative_paths_in_the_file_are_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`data = "dev"` in /etc/kopsync/edge.toml is /etc/kopsync/dev, wherever the process runs."""
    (tmp_path / "etc").mkdir()
    conf = write(tmp_path / "etc" / "edge.toml", 'nats = "nats://n:4222"\ndata = "dev"\n')
    got = resolved(run_command, ["--config", str(conf)], monkeypatch)
    assert got["data_dir"] == tmp_path / "etc" / "dev"


def test_the_partners_file_holds_the_fanout_settings_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`partner fanout --config` keeps its meaning, the partners file, and may also set
    the command's options; `partner check` accepts such a file."""
    (tmp_path / "bank.key").write_text("ab" * 32)
    conf = write(
        tmp_path / "partners.toml",
        'nats = "nats://n:4222"\n[partner-fanout]\nlog-format = "console"\n\n'
        '[[partner]]\nid = "bank"\nhmac_key_file = "bank.key"\nregions = ["62"]\n'
        'areas = ["loans"]\n',
    )
    got = resolved(fanout, ["--config", str(conf)], monkeypatch)
    assert (got["nats_url"], got["log_format"]) == ("nats://n:4222", "console")
    done = kopsync("partner", "check", "--config", str(conf), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("bank"), done.stderr


BAD = [
    ("unreadable", "batch = \n", "not valid TOML"),
    ("unknown key", "batchsize = 10\n", "unknown key 'batchsize'"),
    ("unknown key in its table", "[central-project]\nnats-url = 'x'\n", "unknown key 'nats-url'"),
    ("wrong type", 'batch = "ten"\n', "key 'batch' must be a whole number"),
    ("out of range", "batch = 0\n", "key 'batch'"),
    ("flag not a boolean", 'once = "yes"\n', "key 'once' must be true or false"),
    ("table not a table", "central-project = 1\n", "key 'central-project' must be a table"),
]


@pytest.mark.parametrize(("case", "text", "said"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_line_naming_file_and_key_exit_2(
    tmp_path: Path, case: str, text: str, said: str
) -> None:
    """Whatever is wrong with the file, the process says where in one line and exits 2."""
    conf = write(tmp_path / "bad.toml", text)
    done = kopsync("central", "project", "--once", "--config", str(conf), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {conf}"), done.stderr
    assert said in lines[0]


def test_a_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    """--config naming no file says so, exit 2."""
    done = kopsync("edge", "run", "--config", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert (
        done.returncode == 2
        and done.stderr == f"error: --config {tmp_path / 'none.toml'} does not exist\n"
    )


def test_a_process_started_with_only_a_settings_file_works(tmp_path: Path) -> None:
    """The projector finds its store and output format in the file alone (no flag, no
    KOPSYNC_* variable), in a directory where the default store does not exist."""
    store = tmp_path / "central.db"
    migrated = kopsync("central", "migrate", "--db", f"sqlite:///{store}", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    conf = write(
        tmp_path / "central.toml",
        f'db = "sqlite:///{store}"\n[central-project]\nonce = true\njson = true\n',
    )
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    done = kopsync("central", "project", "--config", str(conf), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 0
    assert not list(elsewhere.iterdir())  # no store made where it ran


SERVICES = [ingest, project, console, fanout, run_command, hub_command]


def test_every_variable_is_in_the_readme_with_its_flag_and_key() -> None:
    """The README's Configuration table names each service variable's flag and TOML key."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for command in SERVICES:
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden or not param.envvar:
                continue
            flag = next(o for o in param.opts if o.startswith("--"))
            row = [r for r in rows if f"`{param.envvar}`" in r]
            assert row, f"{param.envvar} ({flag}) is not in the README's Configuration"
            assert flag in row[0], row[0]
            if param.name != "config_path":
                assert f"| `{flag[2:]}` |" in row[0], row[0]


def test_ingest_runs_from_a_settings_file_alone(tmp_path: Path, nats_server: NatsServer) -> None:
    """`central ingest --config FILE` with no flag and no KOPSYNC_* variable reaches NATS and
    its store, serves /readyz where the file says, and stops on SIGTERM."""
    store = tmp_path / "central.db"
    migrated = kopsync("central", "migrate", "--db", f"sqlite:///{store}", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    conf = write(
        tmp_path / "central.toml",
        f'nats = "{nats_server.url}"\ndb = "sqlite:///{store}"\n'
        f'[central-ingest]\nmetrics-listen = "127.0.0.1:{port}"\njs-budget = {512 * 1024**2}\n',
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_")}
    log = (tmp_path / "ingest.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "kopsync", "central", "ingest", "--config", str(conf)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", proc=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "ingest.log").read_text()
