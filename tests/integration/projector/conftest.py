"""Fixtures of the projector tests: the central store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.projector_db import pin_pseudonym_key

from central_projector.record.store import CentralStore


def pinned(url: str) -> str:
    """A new central store at ``url`` with the in-memory fold's pseudonym key, so its read
    models compare equal to a fold in memory, conflict ids included."""
    store = CentralStore(url)
    pin_pseudonym_key(store.engine)
    store.close()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The central store in a SQLite file of the test's own directory."""
    return pinned(f"sqlite:///{tmp_path / 'central.db'}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The central store on SQLite, and on PostgreSQL when a server is reachable."""
    if request.param == "sqlite":
        yield pinned(f"sqlite:///{tmp_path / 'central.db'}")
    else:
        yield pinned(request.getfixturevalue("postgres_url"))
