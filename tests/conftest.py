"""Fixtures shared by the whole suite: Hypothesis profiles, a real nats-server, a PostgreSQL schema.

Hypothesis profiles (choose with ``HYPOTHESIS_PROFILE``, default ``ci``):

- ``ci``: 200 examples per property, no deadline.
- ``dev``: 50 examples, for a quick local loop.
- ``thorough``: 2000 examples, before a release or after touching the kernel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from support.nats import NatsServer
from support.postgres import (
    ENV_VAR,
    PostgresSchema,
    PostgresUnavailable,
    configured_url,
    create_schema,
    drop_schema,
    probe,
)
from support.tls import Pki, make_pki

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=False,
    # Shared CI machines stall unpredictably; slowness is watched by the suite's timeout instead.
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- NATS --------------------------------------------------------------------------------------

NatsServerFactory = Callable[..., NatsServer]


@pytest.fixture
def nats_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServerFactory]:
    """Make nats-servers with JetStream on free ports: ``factory(config=None, extra_args=(),
    start=True, ports=None) -> NatsServer``. Every server made is killed at teardown."""
    servers: list[NatsServer] = []

    def factory(
        *,
        config: Path | None = None,
        extra_args: Sequence[str] = (),
        start: bool = True,
        tls: Pki | None = None,
        tls_verify: bool = False,
        ports: tuple[int, int] | None = None,
    ) -> NatsServer:
        server = NatsServer(
            tmp_path_factory.mktemp("nats"),
            config=config,
            extra_args=extra_args,
            tls=tls,
            tls_verify=tls_verify,
            ports=ports,
        )
        servers.append(server)
        return server.start() if start else server

    yield factory
    for server in servers:
        server.kill()


@pytest.fixture
def nats_server(nats_server_factory: NatsServerFactory) -> NatsServer:
    """A started nats-server with JetStream on a free port of 127.0.0.1, killed at teardown."""
    return nats_server_factory()


@pytest.fixture
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A fresh CA and a server certificate for 127.0.0.1 and localhost (``kopsync admin tls``)."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_nats_server(nats_server_factory: NatsServerFactory, pki: Pki) -> NatsServer:
    """A started nats-server serving TLS first on its client port (``url`` is ``tls://``)."""
    return nats_server_factory(tls=pki)


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of a reachable PostgreSQL server, database level (no schema).

    Taken from KOPSYNC_TEST_POSTGRES_URL, else the local default. If the variable is set and the
    server does not answer the tests fail (CI asked for PostgreSQL); if it is unset they skip.
    """
    url, demanded = configured_url()
    try:
        probe(url)
    except PostgresUnavailable as exc:
        if demanded:
            pytest.fail(f"{ENV_VAR} is set but PostgreSQL does not answer: {exc}")
        pytest.skip(f"PostgreSQL not reachable (set {ENV_VAR} to require it): {exc}")
    return url


@pytest.fixture
def postgres_schema(postgres_server_url: str) -> Iterator[PostgresSchema]:
    """A fresh schema ``kopsync_test_<hex>``, dropped CASCADE at teardown.

    Select it either with ``.url`` (the server URL plus ``?options=-csearch_path=<schema>``,
    which SQLAlchemy passes through psycopg to libpq, so it works wherever only a URL can be
    given), or with ``create_engine(.base_url, connect_args=.connect_args())``, or simply with
    ``.create_engine()``. Unqualified table names then live in the schema.
    """
    pg = create_schema(postgres_server_url)
    try:
        yield pg
    finally:
        drop_schema(pg)


@pytest.fixture
def postgres_url(postgres_schema: PostgresSchema) -> str:
    """A SQLAlchemy URL whose connections use a fresh per-test schema (see ``postgres_schema``)."""
    return postgres_schema.url


@pytest.fixture
def postgres_engine(postgres_schema: PostgresSchema) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine on a fresh per-test schema, disposed before the schema is dropped."""
    engine = postgres_schema.create_engine()
    try:
        yield engine
    finally:
        engine.dispose()
