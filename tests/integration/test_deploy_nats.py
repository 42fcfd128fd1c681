"""The NATS configurations of deploy/ pass `nats-server -t`, and the deployed TLS serves clients.

Each file is checked on a copy of ``deploy/nats`` whose certificate paths point at a test PKI
(made by the code of ``kopsync admin tls``) and whose ``users.conf`` ``kopsync admin`` wrote,
with the pinned nats-server; ``cluster.conf`` with the variables the cluster fixture sets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.nats import NatsServer
from support.nats_cluster import NatsCluster
from support.secured import DEPLOY, add_device, admin, auth_config, central_user
from support.tls import Pki, make_pki

from kopsync.devnats import nats_server_binary
from sync_core.transport import ConnectOptions, TlsRefused, connected

pytestmark = pytest.mark.timeout(60)

CONFIGS = sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*.conf"))


def _installed(root: Path, pki: Pki) -> Path:
    """A copy of deploy/nats as an installation has it: certificates in place, users made."""
    conf = root / "nats"
    shutil.copytree(DEPLOY, conf, ignore=shutil.ignore_patterns("users.*", "*.nk", "tls"))
    for f in conf.rglob("*.conf"):
        text = f.read_text()
        for name, path in [("server.crt", pki.server_cert), ("server.key", pki.server_key),
                           ("ca.crt", pki.ca)]:  # fmt: skip
            text = text.replace(f"/etc/nats/tls/{name}", str(path))
        f.write_text(text.replace("/var/lib/nats/jetstream", str(root / "js")))
    users = str(conf / "auth" / "users.conf")
    admin("central-user", "--auth", users, "--out", str(root / "central.nk"))
    admin("partner", "add", "--partner", "bank-kalteng", "--auth", users,
          "--out", str(root / "bank.nk"))  # fmt: skip
    return conf


def test_every_deploy_config_is_found() -> None:
    """The check below covers the single node, its TLS, the auth config and the cluster."""
    assert {"nats-server.conf", "tls.conf", "auth/server.conf", "cluster.conf"} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_nats_server_accepts_the_deploy_config(name: str, tmp_path: Path) -> None:
    """`nats-server -t -c FILE` (the pinned server) says the file is valid."""
    pki = make_pki(tmp_path / "pki")
    conf = _installed(tmp_path, pki)
    env = dict(os.environ)
    if name == "cluster.conf":
        env |= NatsCluster(tmp_path / "cluster").nodes[0].env
    check = subprocess.run(
        [str(nats_server_binary()), "-t", "-c", str(conf / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "is valid" in check.stdout + check.stderr


async def test_the_deployed_auth_config_serves_nkey_users_over_tls_only(tmp_path: Path) -> None:
    """On the deployed auth config, the central connects over TLS with its nkey; a client
    without TLS is refused (the server asks for TLS) and so is one pinning no CA."""
    pki = make_pki(tmp_path / "pki")
    auth = auth_config(tmp_path, pki)
    seed = central_user(auth, tmp_path / "central.nk")
    add_device(auth, "6401050012", "kasir-1", tmp_path / "kasir-1", f"sqlite:///{tmp_path}/c.db")
    server = NatsServer(
        tmp_path / "server", config=auth.server_conf, tls=pki, ports=auth.server_ports
    ).start()
    try:
        options = ConnectOptions.for_url(server.url, nkey_seed=str(seed), tls=pki.client_tls())
        async with connected(options) as link:
            info = await link.js.account_info()
            assert info is not None
        for refused in (options.but(servers=(server.plain_url,), tls=None), options.but(tls=None)):
            with pytest.raises(TlsRefused):
                async with connected(refused, 5):
                    pass
    finally:
        server.kill()
