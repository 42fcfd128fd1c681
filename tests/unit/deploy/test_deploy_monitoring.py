"""deploy/: health checks, the Prometheus scrape config and alert rules fit the services."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _listen(command: list[str]) -> str:
    flag = "--metrics-listen" if "--metrics-listen" in command else "--listen"
    return command[command.index(flag) + 1]


def test_every_kopsync_service_has_a_health_check_on_its_own_probe_port() -> None:
    """Each kopsync service listens for probes and its health check asks that port's /healthz."""
    services = _yaml(DEPLOY / "compose.yaml")["services"]
    for name in ("ingest", "projector", "fanout", "console"):
        service = services[name]
        port = _listen(service["command"]).rsplit(":", 1)[1]
        test = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in test, name


def test_prometheus_scrapes_each_service_where_it_listens() -> None:
    """Every static scrape target is a compose service on the port it serves /metrics on."""
    services = _yaml(DEPLOY / "compose.yaml")["services"]
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = [
        t for job in config["scrape_configs"] for sc in job.get("static_configs", [])
        for t in sc["targets"]
    ]  # fmt: skip
    assert len(targets) == 4
    for target in targets:
        host, port = target.split(":")
        assert _listen(services[host]["command"]).endswith(f":{port}"), target
    prometheus = services["prometheus"]["volumes"]
    for name in ("prometheus.yml", "alerts.yml", "edges.yml"):
        assert any(v.startswith(f"./prometheus/{name}:") for v in prometheus)


def test_alerts_use_only_documented_series() -> None:
    """Every kopsync series an alert uses is one the README documents; the three the province
    asked for exist (silent device > 3 days, projector lag > 5 min, quarantine rate)."""
    readme = (ROOT / "README.md").read_text()
    rules = {r["alert"]: r for g in _yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"]
             for r in g["rules"]}  # fmt: skip
    for rule in rules.values():
        for series in re.findall(r"kopsync_[a-z_]+", rule["expr"]):
            base = re.sub(r"_total$", "", series)
            assert f"`{base}" in readme, series
    assert "3 * 86400" in rules["DeviceSilent"]["expr"]
    assert "> 300" in rules["ProjectorLagging"]["expr"]
    assert "kopsync_ingest_quarantined_total" in rules["QuarantineRate"]["expr"]
