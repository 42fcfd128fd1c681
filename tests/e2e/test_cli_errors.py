"""Every command fails like a product: one `error:` line, a documented exit code, no traceback,
and commands that read a central store never create one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

COOP = "6472021005-LMP"
CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test"


def kopsync(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process (no KOPSYNC_DB_URL from the caller)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_")}
    return subprocess.run(
        [sys.executable, "-P", "-m", "kopsync", *args],
        cwd=cwd, env=base | (env or {}), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


READS = [
    ("central", "status"),
    ("central", "verify"),
    ("central", "show", "coop", "6472021005"),
    ("central", "conflicts"),
    ("central", "report", "--region", "64"),
    ("central", "operator", "list"),
]


@pytest.mark.parametrize("read", READS, ids=lambda r: " ".join(r[1:3]))
def test_reads_on_a_missing_store_say_so_and_create_nothing(
    read: tuple[str, ...], tmp_path: Path
) -> None:
    """Without --db a read names the missing ./kopsync-central.db and does not make it."""
    done = kopsync(*read, cwd=tmp_path)
    assert done.returncode == 2
    assert "no central store at kopsync-central.db" in one_error_line(done)
    assert list(tmp_path.iterdir()) == []


def test_reads_refuse_an_unmigrated_store_without_changing_it(tmp_path: Path) -> None:
    """An empty SQLite file is not migrated by a read: exit 3 and the command to run."""
    (tmp_path / "c.db").touch()
    done = kopsync("central", "status", "--db", "sqlite:///c.db", cwd=tmp_path)
    assert done.returncode == 3
    assert "kopsync central migrate --db sqlite:///c.db" in one_error_line(done)
    assert (tmp_path / "c.db").stat().st_size == 0


BAD_URLS = [
    ("sqlite://x.db", 2, "three slashes"),
    ("sqlite:///no/such/dir/x.db", 2, "no/such/dir"),
    ("postgres://", 2, "postgresql+psycopg://"),
    ("postgresql://postgres@127.0.0.1/test", 2, "postgresql+psycopg://postgres@127.0.0.1/test"),
    ("mysql://root@127.0.0.1/kop", 2, "SQLite or PostgreSQL"),
    ("not a url", 2, "is not a database URL"),
    (CLOSED_PORT_URL, 4, "retry"),
]


@pytest.mark.parametrize(("url", "code", "says"), BAD_URLS, ids=[u for u, _, _ in BAD_URLS])
@pytest.mark.parametrize("command", ["migrate", "status", "ingest"])
def test_a_wrong_database_url_is_one_line(
    url: str, code: int, says: str, command: str, tmp_path: Path
) -> None:
    """Each wrong URL, given to the migration, a read and a service, is one line and its code."""
    args = ["central", command, "--db", url]
    if command == "ingest":
        args += ["--nats", "nats://127.0.0.1:1"]
    done = kopsync(*args, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert says in one_error_line(done)
    assert list(tmp_path.iterdir()) == []


def test_psycopg_not_installed_names_the_extra(tmp_path: Path) -> None:
    """Without the PostgreSQL driver a postgresql+psycopg URL names `kopsync[postgres]`."""
    shadow = tmp_path / "no-psycopg" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named psycopg", name="psycopg")\n'
    )
    env = {"PYTHONPATH": str(shadow.parent)}
    done = kopsync("central", "migrate", "--db", CLOSED_PORT_URL, cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "pip install 'kopsync[postgres]'" in one_error_line(done)


def test_exit_codes_by_class(tmp_path: Path) -> None:
    """Bad input exits 2, a business rule's refusal 3; both are one line."""
    data = str(tmp_path / "kasir-1")
    assert kopsync("edge", "init", "--coop", COOP, "--device", "kasir-1", "--data", data,
                   cwd=tmp_path).returncode == 0  # fmt: skip
    bad = kopsync("edge", "savings", "deposit", "S-1", "--amount", "-5", "--receipt", "K",
                  "--data", data, cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    one_error_line(bad)
    rule = kopsync("edge", "savings", "open", "--member", "M-404", "--product", "SUKARELA",
                   "--id", "S-1", "--data", data, cwd=tmp_path)  # fmt: skip
    assert rule.returncode == 3, rule.stderr
    assert "not registered" in one_error_line(rule)


@pytest.mark.parametrize("group", [(), ("edge",), ("central",), ("partner",), ("admin",)])
def test_the_exit_codes_are_in_the_help(group: tuple[str, ...], tmp_path: Path) -> None:
    """`kopsync --help` and each group's --help list every exit code."""
    out = " ".join(kopsync(*group, "--help", cwd=tmp_path).stdout.split())
    for code in ("0 ok", "1 internal", "2 usage", "3 refused", "4 transient", "130 interrupted"):
        assert code in out


def test_no_answer_at_a_prompt_is_one_line(tmp_path: Path) -> None:
    """A password prompt that reads the end of its input exits 2 with one line, not
    click's 'Aborted!'."""
    done = subprocess.run(
        [sys.executable, "-P", "-m", "kopsync", "central", "operator", "add", "siti",
         "--region", "62"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "end of input" in done.stderr.splitlines()[-1]
    assert "Aborted" not in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path) -> None:
    """A one-shot sync interrupted while it waits for a server that accepted but never
    answers exits 130 with `error: interrupted`."""
    data = str(tmp_path / "kasir-1")
    assert kopsync("edge", "init", "--coop", COOP, "--device", "kasir-1", "--data", data,
                   cwd=tmp_path).returncode == 0  # fmt: skip
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "kopsync", "edge", "sync", "--data", data,
             "--nats", f"nats://127.0.0.1:{port}", "--timeout", "600"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            conn, _ = silent.accept()  # it is connecting: well inside the command
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            conn.close()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "error: interrupted" and "Traceback" not in err
