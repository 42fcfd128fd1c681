"""deploy/: the image the compose file runs is built here, migrated first, published and probed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
KOPSYNC_SERVICES = ("ingest", "projector", "fanout", "console")


def _services() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services: dict[str, Any] = doc["services"]
    return services


def test_the_kopsync_image_is_built_from_the_dockerfile_with_the_postgres_extra() -> None:
    """Every kopsync service builds deploy/Dockerfile, which installs kopsync[postgres]."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "pip install '.[postgres]'" in dockerfile
    assert re.search(r"^USER kopsync$", dockerfile, re.M)
    services = _services()
    for name in (*KOPSYNC_SERVICES, "migrate"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_services_start_after_the_migration_and_healthy_dependencies() -> None:
    """The store is migrated once before any service (they refuse an unmigrated store)."""
    services = _services()
    assert services["migrate"]["command"] == ["kopsync", "central", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in KOPSYNC_SERVICES:
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert all(needs[f"nats-{i}"]["condition"] == "service_healthy" for i in (1, 2, 3))


def test_every_long_running_service_has_a_health_check_on_its_probe_port() -> None:
    """Each kopsync service's health check asks /healthz on the port its command listens on;
    NATS and PostgreSQL have their own checks."""
    services = _services()
    for name in KOPSYNC_SERVICES:
        command = services[name]["command"]
        flag = "--metrics-listen" if "--metrics-listen" in command else "--listen"
        port = command[command.index(flag) + 1].rsplit(":", 1)[1]
        assert f"127.0.0.1:{port}/healthz" in " ".join(services[name]["healthcheck"]["test"])
    for i in (1, 2, 3):
        assert "8222/healthz" in " ".join(services[f"nats-{i}"]["healthcheck"]["test"])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_ports_are_published() -> None:
    """Devices reach the NATS nodes' client port; operators the console, behind a proxy."""
    services = _services()
    published = {p.rsplit(":", 1)[-1] for i in (1, 2, 3) for p in services[f"nats-{i}"]["ports"]}
    assert published == {"4222"}
    assert services["console"]["ports"] == ["127.0.0.1:8480:8480"]


def _compose_available() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    return None if done.returncode == 0 else "docker has no compose plugin here"


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """`docker compose config` (the tool's own check) accepts deploy/compose.yaml."""
    reason = _compose_available()
    if reason is not None:
        pytest.skip(reason)
    done = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_compose_file_is_valid_by_the_compose_specification_schema() -> None:
    """deploy/compose.yaml passes the Compose Specification's JSON schema (the copy
    check-jsonschema ships, so the check runs offline and without docker)."""
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(DEPLOY / "compose.yaml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_refuses_a_misspelt_key(tmp_path: Path) -> None:
    """The same check fails a compose file with a key the specification does not have."""
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  ingest:\n    image: kopsync\n    restartt: always\n")
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "restartt" in done.stdout + done.stderr


def test_the_services_database_url_is_the_postgres_service_with_its_user_and_password() -> None:
    """KOPSYNC_DB_URL names the postgres service, its user, its database and the very variable
    the postgres service takes its password from (scram-sha-256 needs one)."""
    from sqlalchemy.engine import make_url

    services = _services()
    pg = services["postgres"]["environment"]
    assert pg["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    for name in (*KOPSYNC_SERVICES, "migrate"):
        url = make_url(services[name]["environment"]["KOPSYNC_DB_URL"])
        assert (url.host, url.port) == ("postgres", 5432)
        assert (url.username, url.database) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
        assert url.password == "${KOPSYNC_DB_PASSWORD}"
        assert pg["POSTGRES_PASSWORD"].startswith("${KOPSYNC_DB_PASSWORD:?")
