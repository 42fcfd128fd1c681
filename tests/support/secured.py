"""A nats-server on the deployed auth configuration, with users made by ``kopsync admin``.

The configuration is ``deploy/nats/auth/server.conf`` (which includes the deployed
``nats-server.conf``, its ``store_dir`` left to the server fixture's ``-sd``, and the
``users.conf`` that the ``kopsync admin`` commands write).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kopsync.cli.main import cli
from support.nats import HOST, free_ports
from support.tls import Pki

DEPLOY = Path(__file__).parents[2] / "deploy" / "nats"


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Where the server's configuration and the generated users file are."""

    server_conf: Path
    users: Path
    leaf_port: int  # where hubs link in (deploy/nats/leafnodes.conf, on a free port)
    # the server's client and monitoring ports (NatsServer's ``ports``), picked with leaf_port
    # so that the three differ
    server_ports: tuple[int, int]


def deployed_server_conf(conf_dir: Path, leaf_port: int, pki: Pki | None = None) -> Path:
    """Copy the deployed ``nats-server.conf`` into ``conf_dir``, its ``store_dir`` left to the
    fixture's ``-sd``, with its ``tls.conf``: the deployed block on ``pki``'s files, or none
    (a plaintext client port) without one; and ``leafnodes.conf`` (which auth/server.conf
    includes) on ``leaf_port`` (picked with the server's own ports by :func:`free_ports`)."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    lines = (DEPLOY / "nats-server.conf").read_text().splitlines()
    kept = [x for x in lines if not x.strip().startswith("store_dir")]
    (conf_dir / "nats-server.conf").write_text("\n".join(kept) + "\n")
    tls = "# no TLS in this test\n"
    if pki is not None:
        tls = (DEPLOY / "tls.conf").read_text()
        for name, path in [("server.crt", pki.server_cert), ("server.key", pki.server_key),
                           ("ca.crt", pki.ca)]:  # fmt: skip
            tls = tls.replace(f"/etc/nats/tls/{name}", str(path))
    (conf_dir / "tls.conf").write_text(tls)
    leafnodes = leafnodes_conf(leaf_port, pki)
    (conf_dir / "leafnodes.conf").write_text(leafnodes)
    return conf_dir / "nats-server.conf"


def auth_config(root: Path, pki: Pki | None = None) -> AuthConfig:
    """Copy the deployed server configuration under ``root``; ``users`` is still to be made."""
    conf_dir = root / "nats"
    (conf_dir / "auth").mkdir(parents=True)
    leaf_port, port, monitor_port = free_ports(3)
    deployed_server_conf(conf_dir, leaf_port, pki)
    shutil.copy(DEPLOY / "auth" / "server.conf", conf_dir / "auth" / "server.conf")
    return AuthConfig(
        conf_dir / "auth" / "server.conf",
        conf_dir / "auth" / "users.conf",
        leaf_port,
        (port, monitor_port),
    )


def leafnodes_conf(port: int, pki: Pki | None) -> str:
    """The deployed ``leafnodes.conf`` on ``port`` (loopback), its TLS on ``pki``'s files or,
    without one, none."""
    text = (DEPLOY / "leafnodes.conf").read_text().replace("0.0.0.0:7422", f"{HOST}:{port}")
    if pki is None:
        start = text.index("  tls {")
        end = text.index("  }\n", start) + len("  }\n")
        return text[:start] + text[end:]
    for name, path in [("server.crt", pki.server_cert), ("server.key", pki.server_key),
                       ("ca.crt", pki.ca)]:  # fmt: skip
        text = text.replace(f"/etc/nats/tls/{name}", str(path))
    return text


def admin(*args: str) -> dict[str, Any]:
    """Run ``kopsync admin ARGS --json`` in-process; return its JSON output."""
    result = CliRunner().invoke(cli, ["admin", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def central_user(auth: AuthConfig, seed_file: Path) -> Path:
    """``kopsync admin central-user``: the central services' seed file."""
    admin("central-user", "--auth", str(auth.users), "--out", str(seed_file))
    return seed_file


def add_device(auth: AuthConfig, coop_id: str, device_id: str, out: Path, db_url: str) -> Path:
    """``kopsync admin device add``: a device directory in ``out``, registered (the store is
    migrated first, as an operator does once); its seed file."""
    migrated = CliRunner().invoke(cli, ["central", "migrate", "--db", db_url])
    assert migrated.exit_code == 0, migrated.output
    doc = admin("device", "add", "--coop", coop_id, "--device", device_id, "--out", str(out),
                "--db", db_url, "--auth", str(auth.users))  # fmt: skip
    return Path(doc["seed_file"])
