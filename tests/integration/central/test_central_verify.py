"""`kopsync central verify` names every corrupted row of the central store, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fault.storage import tamper_central

from central_projector.record.store import CentralStore
from central_projector.record.verify import verify_store
from edge_agent.app.agent import EdgeAgent
from kopsync.cli.central import central
from sync_core import subjects
from sync_core.batch import encode_batch

COOP = "6472021005"


def _store_with_events(tmp_path: Path, n: int = 8) -> CentralStore:
    agent = EdgeAgent.init(tmp_path / "dev", COOP, "pos-1")
    for i in range(n):
        agent.record("PriceSet", {"sku": f"SKU-{i}", "unit_price": 1000 + i}, f"SKU-{i}")
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    store.register_device(COOP, "pos-1", agent.public_key)
    raw = [bytes(b) for _, b in agent.store.raw_events()]
    store.process_upload(subjects.upload(COOP, "pos-1"), encode_batch(COOP, "pos-1", raw), 1)
    agent.close()
    return store


def test_an_intact_store_verifies(tmp_path: Path) -> None:
    """Every event of an untouched store verifies (the device's eight and the central's
    DeviceRegistered), and the command exits 0."""
    store = _store_with_events(tmp_path)
    try:
        report = verify_store(store.engine)
        assert report.ok and report.checked == 9
        result = CliRunner().invoke(central, ["verify", "--db", store.url])
        assert result.exit_code == 0 and result.output.startswith("ok: 9 events")
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["flip", "hash", "delete", "swap"])
def test_a_corrupted_row_is_named(tmp_path: Path, kind: str) -> None:
    """A flipped byte, a wrong hash column, a deleted row or two swapped rows are reported at
    seq 4 (or the seq after it), with exit status 1."""
    store = _store_with_events(tmp_path)
    try:
        tamper_central(store.engine, kind, "pos-1", 4)
        report = verify_store(store.engine)
        named = {b.seq for b in report.bad}
        assert named and named <= {4, 5}, report.bad
        result = CliRunner().invoke(central, ["verify", "--db", store.url])
        assert result.exit_code == 1 and "BROKEN pos-1 seq" in result.output
    finally:
        store.close()
