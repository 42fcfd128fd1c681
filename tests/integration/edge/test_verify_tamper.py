"""`kopsync edge verify` detects tampering with the stored log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_agent.app.agent import DB_NAME, EdgeAgent
from kopsync.cli.main import cli


def _device(tmp_path: Path, n: int = 12) -> Path:
    data = tmp_path / "dev"
    with EdgeAgent.init(data, "6208031007", "seruyan-1") as agent:
        for i in range(n):
            agent.record(
                "StockReceived",
                {
                    "sku": f"PUPUK-{i % 3}",
                    "qty": 5 + i,
                    "location": "gudang",
                    "supplier": "Pupuk Kaltim",
                    "doc_no": f"SJ-{i}",
                },
                f"PUPUK-{i % 3}",
            )
    return data


def _rows(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / DB_NAME)


def _verify(data: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["edge", "verify", "--data", str(data), "--json"])
    return result.exit_code, result.output


def test_intact_log_verifies(tmp_path: Path) -> None:
    """An untouched log passes verify with exit code 0."""
    code, out = _verify(_device(tmp_path))
    assert code == 0 and '"ok": true' in out and '"checked": 12' in out


@pytest.mark.parametrize("offset", [3, 40, 120, -70, -1])
def test_flipped_byte_is_detected_at_its_seq(tmp_path: Path, offset: int) -> None:
    """Flipping one byte anywhere in stored event 7 makes verify fail naming seq 7."""
    data = _device(tmp_path)
    with _rows(data) as conn:
        (state,) = conn.execute(
            "SELECT state FROM device_events WHERE originator_version = 7"
        ).fetchone()
        b = bytearray(state)
        b[offset] ^= 0x01
        conn.execute("UPDATE device_events SET state = ? WHERE originator_version = 7", (bytes(b),))
    with EdgeAgent(data) as agent:
        report = agent.verify()
    assert report.first_bad_seq == 7, report
    code, out = _verify(data)
    assert code == 1 and '"first_bad_seq": 7' in out


def test_deleted_event_is_detected(tmp_path: Path) -> None:
    """Deleting stored event 5 makes verify fail naming seq 5 as missing."""
    data = _device(tmp_path)
    with _rows(data) as conn:
        conn.execute("DELETE FROM device_events WHERE originator_version = 5")
    with EdgeAgent(data) as agent:
        report = agent.verify()
    assert (report.first_bad_seq, report.reason) == (5, "seq 5 is missing")


def test_deleted_last_event_is_detected(tmp_path: Path) -> None:
    """Deleting the newest event is detected although the rest of the chain links."""
    data = _device(tmp_path)
    with _rows(data) as conn:
        conn.execute("DELETE FROM device_events WHERE originator_version = 12")
    with EdgeAgent(data) as agent:
        report = agent.verify()
    assert not report.ok and report.first_bad_seq is not None


def test_swapped_events_are_detected(tmp_path: Path) -> None:
    """Swapping the stored bytes of events 8 and 9 makes verify fail at seq 8."""
    data = _device(tmp_path)
    with _rows(data) as conn:
        a = conn.execute("SELECT state FROM device_events WHERE originator_version=8").fetchone()[0]
        b = conn.execute("SELECT state FROM device_events WHERE originator_version=9").fetchone()[0]
        conn.execute("UPDATE device_events SET state=? WHERE originator_version=8", (b,))
        conn.execute("UPDATE device_events SET state=? WHERE originator_version=9", (a,))
    with EdgeAgent(data) as agent:
        assert agent.verify().first_bad_seq == 8


def test_resigned_event_with_another_key_is_detected(tmp_path: Path) -> None:
    """A stored event re-signed by another key (chain bytes intact) fails the signature check."""
    from sync_core.envelope import Envelope, seal
    from sync_core.signing import DeviceKey

    data = _device(tmp_path, n=3)
    with _rows(data) as conn:
        raw = conn.execute("SELECT state FROM device_events WHERE originator_version=3").fetchone()
        env = Envelope.decode(raw[0])
        forged = seal(
            DeviceKey.generate(),
            event_id=env.event_id,
            coop_id=env.coop_id,
            device_id=env.device_id,
            seq=env.seq,
            hlc=env.hlc,
            type=env.type,
            version=env.version,
            aggregate_id=env.aggregate_id,
            payload=env.payload,
            prev_hash=env.prev_hash,
        )
        conn.execute(
            "UPDATE device_events SET state=? WHERE originator_version=3", (forged.encode(),)
        )
    with EdgeAgent(data) as agent:
        report = agent.verify()
    assert report.first_bad_seq == 3 and "signature" in (report.reason or "")


def test_every_corrupted_event_is_named_not_only_the_first(tmp_path: Path) -> None:
    """With events 4 and 9 corrupted, verify names both (the fault suite's corruption scenario
    found a second corruption hidden behind the first), and no intact event besides."""
    data = _device(tmp_path)
    with _rows(data) as conn:
        for seq in (4, 9):
            (state,) = conn.execute(
                "SELECT state FROM device_events WHERE originator_version = ?", (seq,)
            ).fetchone()
            b = bytearray(state)
            b[-3] ^= 0x01  # a letter of the type name, signed like every field
            conn.execute(
                "UPDATE device_events SET state = ? WHERE originator_version = ?", (bytes(b), seq)
            )
    with EdgeAgent(data) as agent:
        report = agent.verify()
    assert (report.first_bad_seq, report.last_seq, report.checked) == (4, 3, 3)
    assert [seq for seq, _ in report.bad] == [4, 9], report.bad
    code, out = _verify(data)
    assert code == 1 and '"seq": 9' in out
