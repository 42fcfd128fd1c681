"""Fixtures of the projector tests: the central store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The central store in a SQLite file of the test's own directory."""
    return f"sqlite:///{tmp_path / 'central.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The central store on SQLite, and on PostgreSQL when a server is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
    else:
        yield request.getfixturevalue("postgres_url")
