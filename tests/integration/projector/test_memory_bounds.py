"""The projector's memory bounds: rows cached between steps, SQLite page cache and mmap."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from support.projector_db import sql_snapshot

from central_projector.projection.projector import SQLITE_CACHE_KIB, Projector
from central_projector.projection.readmodels.sqlstate import CHUNK, in_list_length
from central_projector.record.store import CentralStore
from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim import simulate
from kopsync.cli.main import cli
from sync_core import subjects
from sync_core.batch import encode_batch

COOPS = ("6401050012", "6472021005")


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A central SQLite store with 600 committed events of two devices (and the central's two
    DeviceRegistered), nothing projected."""
    root = tmp_path_factory.mktemp("bounds")
    path = root / "central.db"
    store = CentralStore(f"sqlite:///{path}")
    for i, coop in enumerate(COOPS):
        with EdgeAgent.init(root / f"device-{i}", coop, f"kasir-{i}") as agent:
            simulate(agent, 300, seed=3)
            store.register_device(agent.coop_id, agent.device_id, agent.public_key)
            envs = [e.envelope for e in agent.log()]
            for j in range(0, len(envs), 25):
                chunk = envs[j : j + 25]
                data = encode_batch(coop, agent.device_id, [e.encode() for e in chunk])
                subject = subjects.upload(coop, agent.device_id)
                res = store.process_upload(subject, data, now_ms=chunk[-1].hlc.wall)
                assert not res.quarantined, res.quarantined
    store.close()
    return path


def _copy(store_file: Path, tmp_path: Path, name: str) -> str:
    target = tmp_path / f"{name}.db"
    shutil.copy(store_file, target)
    return f"sqlite:///{target}"


@pytest.mark.parametrize("cache_rows", [0, 150])
def test_no_more_rows_than_cache_rows_stay_cached_and_the_read_models_are_the_same(
    store_file: Path, tmp_path: Path, cache_rows: int
) -> None:
    """Between steps a bounded projector never holds more than ``cache_rows`` rows, and it
    projects exactly the read models an unbounded one does."""
    bounded = Projector(_copy(store_file, tmp_path, "bounded"), batch_size=40,
                        cache_rows=cache_rows)  # fmt: skip
    held: list[int] = []
    try:
        upto = bounded.barrier()
        while bounded.step(upto).read:
            held.append(bounded.cache.size())
        got = sql_snapshot(bounded.engine)
    finally:
        bounded.close()
    with Projector(_copy(store_file, tmp_path, "free"), batch_size=40) as free:
        free.run_once()
        assert free.cache.size() > 2 * 150  # the cap below is reached, many times over
        want = sql_snapshot(free.engine)
    assert len(held) == -(-upto // 40)  # one step per batch of 40 positions
    assert max(held) <= cache_rows
    if cache_rows:
        assert max(held) > 0  # the cache is used below its bound, not just dropped
    assert got == want


def test_lookups_use_few_statement_shapes() -> None:
    """Any number of keys up to CHUNK is looked up in lists of ten lengths at most, which
    add up to the keys exactly, so the driver's cache of prepared statements stops growing."""
    lengths: set[int] = set()
    for n in range(1, CHUNK + 1):
        left, parts = n, []
        while left:
            parts.append(in_list_length(left))
            left -= parts[-1]
        assert sum(parts) == n and len(parts) <= n.bit_count()
        lengths.update(parts)
    assert sorted(lengths) == [1, 2, 4, 8, 16, 32, 64, 128, 256, CHUNK]


def _pragmas(projector: Projector) -> tuple[int, int, int]:
    with projector.engine.connect() as conn:
        return (
            conn.exec_driver_sql("PRAGMA cache_size").scalar_one(),
            conn.exec_driver_sql("PRAGMA mmap_size").scalar_one(),
            conn.exec_driver_sql("PRAGMA synchronous").scalar_one(),
        )


def test_the_sqlite_bounds_are_set_on_the_projectors_connections(tmp_path: Path) -> None:
    """The page cache and mmap sizes given are what SQLite reports on the projector's own
    connection (a negative cache_size is KiB); synchronous=NORMAL stays."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    with Projector(url, sqlite_cache_kib=3072, sqlite_mmap_bytes=8 << 20) as p:
        assert _pragmas(p) == (-3072, 8 << 20, 1)
    with Projector(url, sqlite_cache_kib=0, sqlite_mmap_bytes=0) as p:
        assert _pragmas(p)[:2] == (0, 0)
    with Projector(url) as p:
        cache, mmap, _ = _pragmas(p)
        assert cache == -SQLITE_CACHE_KIB
        assert mmap > 8 << 20  # 4 GiB, or SQLite's compiled-in maximum if lower


@pytest.mark.parametrize(
    "bounds",
    [{"cache_rows": -1}, {"sqlite_cache_kib": -5}, {"sqlite_mmap_bytes": 1.5}],
)
def test_negative_or_fractional_bounds_are_refused(tmp_path: Path, bounds: dict[str, int]) -> None:
    """A bound below zero or not a whole number is refused before anything is opened."""
    with pytest.raises(ValueError, match="whole number >= 0"):
        Projector(f"sqlite:///{tmp_path / 'central.db'}", **bounds)
    assert not (tmp_path / "central.db").exists()


def test_project_takes_the_bounds_as_options_and_from_the_environment(
    store_file: Path, tmp_path: Path
) -> None:
    """``central project --cache-rows/--sqlite-cache-mib/--sqlite-mmap-mib`` (or their
    $KOPSYNC_PROJECT_* variables) project as usual; bad values are one usage line."""
    url = _copy(store_file, tmp_path, "cli")
    runner = CliRunner()
    bounds = ["--cache-rows", "100", "--sqlite-cache-mib", "1", "--sqlite-mmap-mib", "0"]
    ok = runner.invoke(cli, ["central", "project", "--db", url, "--once", *bounds, "--json"])
    assert ok.exit_code == 0, ok.output
    assert '"events": 602' in ok.stdout  # the devices' 600 and their two registrations
    env = {"KOPSYNC_PROJECT_CACHE_ROWS": "0", "KOPSYNC_PROJECT_SQLITE_CACHE_MIB": "2",
           "KOPSYNC_PROJECT_SQLITE_MMAP_MIB": "0"}  # fmt: skip
    again = runner.invoke(cli, ["central", "project", "--db", url, "--once"], env=env)
    assert again.exit_code == 0, again.output
    assert "projected 0 events" in again.stdout
    for args, env, option in [
        (["--cache-rows", "-1"], {}, "--cache-rows"),
        (["--sqlite-cache-mib", "lots"], {}, "--sqlite-cache-mib"),
        ([], {"KOPSYNC_PROJECT_SQLITE_MMAP_MIB": "-64"}, "--sqlite-mmap-mib"),
        ([], {"KOPSYNC_PROJECT_CACHE_ROWS": "1e6"}, "--cache-rows"),
    ]:
        bad = runner.invoke(cli, ["central", "project", "--db", url, "--once", *args], env=env)
        assert bad.exit_code == 2, bad.output
        assert f"Invalid value for '{option}'" in bad.stderr
        assert "Traceback" not in bad.output
        assert bad.exception is None or isinstance(bad.exception, SystemExit)
    with sa.create_engine(url).connect() as conn:  # the bad runs did not touch the store
        assert conn.exec_driver_sql("SELECT events FROM rm_projector_position").scalar() == 602
