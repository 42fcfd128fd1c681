"""`kopsync edge init|token|serve`: the API's access token shown once, and clear refusals."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner, Result

from edge_agent.app.token import TOKEN_NAME, digest
from kopsync.cli.main import cli


def edge(data: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["edge", *args, "--data", str(data)], catch_exceptions=False)


def test_init_shows_the_token_once_and_keeps_only_its_digest(tmp_path: Path) -> None:
    """`edge init` prints the token; the data directory holds its SHA-256, mode 0600."""
    data = tmp_path / "kasir"
    out = json.loads(
        edge(data, "init", "--coop", "6401050012", "--device", "pb-1", "--json").stdout
    )
    token = out["http_token"]
    stored = (data / TOKEN_NAME).read_text().strip()
    assert stored == digest(token).hex() and token not in stored
    assert (data / TOKEN_NAME).stat().st_mode & 0o777 == 0o600
    assert token not in edge(data, "status", "--json").stdout
    human = edge(tmp_path / "other", "init", "--coop", "6401050012", "--device", "pb-2")
    assert "shown once" in human.stdout


def test_token_replaces_the_token(tmp_path: Path) -> None:
    """`edge token` makes a new token whose digest replaces the old one."""
    data = tmp_path / "kasir"
    first = json.loads(
        edge(data, "init", "--coop", "6401050012", "--device", "pb-1", "--json").stdout
    )
    second = json.loads(edge(data, "token", "--json").stdout)["http_token"]
    assert second != first["http_token"]
    assert (data / TOKEN_NAME).read_text().strip() == digest(second).hex()
    missing = edge(tmp_path / "nothing", "token")
    assert missing.exit_code != 0 and missing.stderr.startswith("error: ")


def test_serve_refuses_a_lan_bind_without_a_token_and_a_busy_port(tmp_path: Path) -> None:
    """Beyond loopback without a token, or on a port in use: one `error:` line, nothing served."""
    data = tmp_path / "kasir"
    edge(data, "init", "--coop", "6401050012", "--device", "pb-1")
    (data / TOKEN_NAME).unlink()
    lan = edge(data, "serve", "--http", "0.0.0.0:0")
    assert lan.exit_code == 2
    assert lan.stderr.count("\n") == 1 and "kopsync edge token" in lan.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = edge(data, "serve", "--http", f"127.0.0.1:{port}")
    assert taken.exit_code == 2 and "cannot listen" in taken.stderr
    bad = edge(data, "serve", "--http", "127.0.0.1:http")
    assert bad.exit_code == 2 and "HOST:PORT" in bad.stderr
