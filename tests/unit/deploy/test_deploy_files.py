"""deploy/: the compose file parses and runs the same cluster configuration as the cluster tests."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import yaml
from support.nats_cluster import CLUSTER_CONF, NatsCluster

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


def _conf_variables() -> set[str]:
    return set(re.findall(r"\$(KOP_[A-Z0-9_]+)", CLUSTER_CONF.read_text()))


def test_compose_runs_three_nats_nodes_on_the_cluster_conf_of_the_tests() -> None:
    """Each nats service mounts the fixture's deploy/nats/cluster.conf and sets its variables."""
    services = _compose()["services"]
    nodes = [services[f"nats-{i}"] for i in (1, 2, 3)]
    for i, node in enumerate(nodes, start=1):
        mount = next(v for v in node["volumes"] if v.endswith(":/etc/nats/cluster.conf:ro"))
        assert (DEPLOY / mount.split(":")[0]).resolve() == CLUSTER_CONF
        assert node["command"][:2] == ["-c", "/etc/nats/cluster.conf"]
        env = node["environment"]
        assert set(env) == _conf_variables()
        assert env["KOP_NATS_NAME"] == f"nats-{i}"
        routes = sorted(env[f"KOP_NATS_ROUTE_{k}"] for k in (1, 2, 3))
        assert routes == [f"nats-route://nats-{k}:6222" for k in (1, 2, 3)]


def test_the_cluster_fixture_sets_the_same_variables(tmp_path: Path) -> None:
    """tests/support/nats_cluster.py gives every node exactly the variables cluster.conf uses."""
    cluster = NatsCluster(tmp_path)
    assert all(set(node.env) == _conf_variables() for node in cluster.nodes)
    assert all(node.config == CLUSTER_CONF for node in cluster.nodes)


def test_compose_workers_use_r3_streams_partitions_and_every_nats_node() -> None:
    """Ingest and projector share one environment: R3, partitions, PostgreSQL, three nodes."""
    services = _compose()["services"]
    for name in ("ingest", "projector"):
        env = services[name]["environment"]
        assert env["KOPSYNC_JS_REPLICAS"] == "3"
        assert int(env["KOPSYNC_INGEST_PARTITIONS"]) > 1
        assert int(env["KOPSYNC_PROJECT_PARTITIONS"]) > 1
        assert env["KOPSYNC_DB_URL"].startswith("postgresql+psycopg://")
        assert env["KOPSYNC_NATS_URL"].split(",") == [f"tls://nats-{k}:4222" for k in (1, 2, 3)]
        assert env["KOPSYNC_NATS_TLS_CA"] == "/run/secrets/ca.crt"
    assert services["ingest"]["command"][:3] == ["kopsync", "central", "ingest"]
    assert services["projector"]["command"][:3] == ["kopsync", "central", "project-worker"]


def test_the_edge_unit_runs_edge_run_with_the_documented_environment() -> None:
    """The systemd unit runs `kopsync edge run` from its environment file, all keys documented."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "systemd" / "kopsync-edge.service")
    assert unit["Service"]["ExecStart"].endswith("kopsync edge run --log-json")
    assert unit["Service"]["Restart"] == "always"
    keys = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "systemd" / "edge.env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert keys == {"KOPSYNC_DATA", "KOPSYNC_NATS_URL", "KOPSYNC_NATS_NKEY", "KOPSYNC_NATS_TLS_CA"}
    readme = (DEPLOY / "README.md").read_text()
    for var in sorted(keys | _conf_variables()):
        assert var in readme, f"{var} is not documented in deploy/README.md"
