"""Three nats-server processes on loopback forming one JetStream cluster (deploy/nats/cluster.conf).

Every node runs the deployment's own cluster configuration file; the per-node settings
come from the environment, as in deploy/compose.yaml. Nodes can be killed and
restarted one by one (:class:`support.nats.NatsServer` underneath).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from support.nats import HOST, NatsServer, free_ports
from support.tls import Pki, make_pki
from sync_core.transport import TlsFiles

CLUSTER_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "cluster.conf"


class ClusterNode(NatsServer):
    """A node whose environment carries its cluster settings (its TLS files among them)."""

    def __init__(
        self, workdir: Path, env: dict[str, str], pki: Pki, ports: tuple[int, int]
    ) -> None:
        # cluster.conf serves TLS itself, on the environment's files
        super().__init__(workdir, config=CLUSTER_CONF, startup_timeout=30.0, tls=pki, ports=ports)
        self.env = env

    def command(self) -> list[str]:
        # -js and -sd come from the file (the store dir is per node, in the environment)
        cmd = super().command()
        i = cmd.index("-js")
        return cmd[:i]

    def start_async(self) -> None:
        """Spawn without waiting: a lone node is not healthy until it has a quorum."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
            )
        self._started = True

    def wait_ready(self) -> None:
        self._wait_ready()

    def _spawn(self) -> None:
        self.start_async()
        self._wait_ready()


class NatsCluster:
    """Three JetStream nodes with routes to each other."""

    def __init__(self, workdir: Path, size: int = 3, max_file: str = "2GB") -> None:
        # Every node's route, client and monitoring port in one pick, so that no two are the
        # same: the nodes are spawned together, without NatsServer.start's retry on new ports.
        picked = free_ports(3 * size)
        ports, clients, monitors = picked[:size], picked[size : 2 * size], picked[2 * size :]
        # One certificate for 127.0.0.1 serves every node here; a deployment gives each its own.
        self.pki = make_pki(workdir / "pki")
        routes = {
            f"KOP_NATS_ROUTE_{i + 1}": f"nats-route://{HOST}:{p}" for i, p in enumerate(ports)
        }
        self.nodes = []
        for i, port in enumerate(ports):
            env = {
                "KOP_NATS_NAME": f"kop-n{i + 1}",
                "KOP_NATS_CLUSTER_PORT": str(port),
                "KOP_NATS_STORE": str(workdir / f"n{i + 1}" / "jetstream"),
                "KOP_NATS_MAX_FILE": max_file,
                "KOP_NATS_TLS_CERT": str(self.pki.server_cert),
                "KOP_NATS_TLS_KEY": str(self.pki.server_key),
                "KOP_NATS_TLS_CA": str(self.pki.ca),
                **routes,
            }
            node_ports = (clients[i], monitors[i])
            self.nodes.append(ClusterNode(workdir / f"n{i + 1}", env, self.pki, node_ports))

    @property
    def url(self) -> str:
        """Every node's client URL (``tls://``), comma-separated (kopsync clients take such a
        list)."""
        return ",".join(n.url for n in self.nodes)

    def client_tls(self) -> TlsFiles:
        """What a client pins: the cluster's CA."""
        return self.pki.client_tls()

    def start(self) -> NatsCluster:
        for node in self.nodes:
            node.workdir.mkdir(parents=True, exist_ok=True)
            node.start_async()
        for node in self.nodes:
            node.wait_ready()
        self.wait_meta_leader()
        return self

    def wait_meta_leader(self, timeout: float = 60.0) -> None:
        """Until a running node reports a JetStream meta leader (the cluster can create streams)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.is_running and _meta_leader(node):
                    return
            time.sleep(0.2)
        raise AssertionError("the cluster elected no JetStream meta leader")

    def kill(self, i: int) -> None:
        self.nodes[i].kill()

    def restart(self, i: int) -> None:
        self.nodes[i].start()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _meta_leader(node: NatsServer) -> bool:
    try:
        with urllib.request.urlopen(f"{node.monitor_url}/jsz", timeout=1) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError):
        return False
    return bool(body.get("meta_cluster", {}).get("leader"))
