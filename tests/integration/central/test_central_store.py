"""Contract tests of the central store's ingest, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central_projector.record.store import CentralStore
from central_projector.record.tables import events
from edge_agent.app.agent import EdgeAgent
from sync_core import subjects
from sync_core.batch import encode_batch
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.protocol import HelloReply, HelloRequest
from sync_core.signing import DeviceKey

COOP, OTHER = "6472021005", "6401050012"
NOW = 1_790_000_000_000


def _agent(tmp: Path, device: str = "pos-1", coop: str = COOP, n: int = 6) -> EdgeAgent:
    agent = EdgeAgent.init(tmp / device, coop, device)
    for i in range(n):
        agent.record(
            "StockReceived",
            {
                "sku": "BRS-5",
                "qty": 1 + i,
                "location": "gudang",
                "supplier": "Bulog",
                "doc_no": f"DO-{i}",
            },
            "BRS-5",
        )
    return agent


def _raw(agent: EdgeAgent) -> list[bytes]:
    return [b for _, b in agent.store.raw_events()]


def _up(store: CentralStore, agent: EdgeAgent, events: list[bytes], now: int = NOW):
    subject = subjects.upload(agent.coop_id, agent.device_id)
    return store.process_upload(subject, encode_batch(agent.coop_id, agent.device_id, events), now)


def _hello(store: CentralStore, device: str, clock: list[int], now: int) -> HelloReply:
    return store.hello(HelloRequest(COOP, device, 6, Hlc(*clock)), now)


def _forge(agent: EdgeAgent, key: DeviceKey, **changes: object) -> bytes:
    """An envelope of ``agent`` re-signed by ``key`` after ``changes``."""
    last = Envelope.decode(_raw(agent)[-1])
    fields = {
        "event_id": "11111111-2222-3333-4444-555555555555",
        "coop_id": last.coop_id,
        "device_id": last.device_id,
        "seq": last.seq + 1,
        "hlc": Hlc(last.hlc.wall + 1, 0),
        "type": "PriceSet",
        "version": 1,
        "aggregate_id": "BRS-5",
        "payload": {"sku": "BRS-5", "unit_price": 72_000},
        "prev_hash": last.hash,
    }
    fields.update(changes)
    return seal(key, **fields).encode()  # type: ignore[arg-type]


class CentralStoreContract:
    """Every back-end must pass these."""

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[CentralStore]:
        s = CentralStore(store_url)
        yield s
        s.close()

    def test_in_order_upload_commits_every_event_byte_equal(self, store, tmp_path):
        """Events uploaded in order are committed once each, byte-equal to the edge log."""
        agent = _agent(tmp_path)
        store.register_device(COOP, "pos-1", agent.public_key)
        res = _up(store, agent, _raw(agent))
        assert (res.committed, res.committed_seq, res.quarantined) == (6, 6, [])
        assert [b for _, b in store.committed("pos-1")] == _raw(agent)

    def test_redelivery_and_overlap_have_no_effect(self, store, tmp_path):
        """The same batch again, and overlapping batches, count as duplicates and change nothing."""
        agent = _agent(tmp_path)
        store.register_device(COOP, "pos-1", agent.public_key)
        raw = _raw(agent)
        _up(store, agent, raw[:4])
        again = _up(store, agent, raw[:4])
        more = _up(store, agent, raw[2:])
        assert (again.committed, again.duplicates) == (0, 4)
        assert (more.committed, more.duplicates) == (2, 2)
        assert [b for _, b in store.committed("pos-1")] == raw

    def test_a_device_clock_far_ahead_does_not_move_the_central_clock(self, store, tmp_path):
        """A hello 10 years, or an hour, ahead leaves the central HLC at its own wall; one a day
        late or a few minutes ahead still advances it past the device's clock (found by the
        clock_skew fault scenario: one skewed device used to get every other device flagged
        CLOCK_SKEW; and a hello is not signed, so what it may move is bounded)."""
        agent = _agent(tmp_path)
        store.register_device(COOP, "pos-1", agent.public_key, now_ms=NOW)
        ten_years = NOW + 3652 * 24 * 3600 * 1000
        assert _hello(store, "pos-1", [ten_years, 3], NOW).hlc.wall == NOW
        assert _hello(store, "pos-1", [NOW + 3_600_000, 3], NOW + 1).hlc == Hlc(NOW + 1, 0)
        ahead = NOW + 4 * 60 * 1000
        assert _hello(store, "pos-1", [ahead, 3], NOW + 2).hlc == Hlc(ahead, 4)
        assert _hello(store, "pos-1", [NOW - 86_400_000, 0], NOW + 3).hlc == Hlc(ahead, 5)

    def test_a_hello_cannot_push_the_central_clock(self, store, tmp_path):
        """The oversized-counter hello of an unregistered device changes nothing; a registered
        device's is not adopted either; every later hello and central issue still work."""
        agent = _agent(tmp_path)
        store.register_device(COOP, "pos-1", agent.public_key, now_ms=NOW - 1000)
        before = store.device_status()
        attack = [NOW + 23 * 3_600_000 + 1_800_000, 2**63 - 6]
        reply = _hello(store, "stranger-1", attack, NOW)
        assert not reply.registered and reply.hlc == Hlc(NOW, 0)
        assert store.device_status() == before  # unregistered: nothing written
        assert _hello(store, "pos-1", attack, NOW + 1).hlc == Hlc(NOW + 1, 0)
        assert _hello(store, "pos-1", [NOW, 2**63 - 6], NOW + 2).hlc == Hlc(NOW + 2, 0)
        env = store.issue("CardBlocked", COOP, {"reason": "hilang"}, "04A1B2C3", NOW + 3)
        assert env.hlc == Hlc(NOW + 3, 0)

    def test_gap_holds_successors_until_filled(self, store, tmp_path):
        """Events after a missing seq are held, reported by hello, and released when it arrives."""
        agent = _agent(tmp_path)
        store.register_device(COOP, "pos-1", agent.public_key)
        raw = _raw(agent)
        _up(store, agent, raw[:2])
        held = _up(store, agent, raw[4:])
        assert (held.held, held.committed_seq) == (2, 2)
        reply = _hello(store, "pos-1", [NOW, 0], NOW)
        assert (reply.committed_seq, reply.held) == (2, ((5, 6),))
        status = {r["device_id"]: r for r in store.device_status()}["pos-1"]
        assert (status["gaps"], status["held"]) == (1, 2)
        filled = _up(store, agent, raw[2:4])
        assert (filled.committed, filled.released, filled.committed_seq) == (4, 2, 6)
        assert [b for _, b in store.committed("pos-1")] == raw
        assert {r["device_id"]: r for r in store.device_status()}["pos-1"]["gaps"] == 0

    def test_gap_timeout_applies_held_events_flagged_then_heals(self, store, tmp_path):
        """After the gap timeout held events are applied flagged GAP; the late ones still commit."""
        agent = _agent(tmp_path)
        store.register_device(COOP, "pos-1", agent.public_key)
        raw = _raw(agent)
        _up(store, agent, raw[:1])
        _up(store, agent, raw[3:])
        assert store.release_expired_gaps(NOW + 10, timeout_ms=60_000) == 0
        assert store.release_expired_gaps(NOW + 60_000, timeout_ms=60_000) == 3
        assert [s for s, _ in store.committed("pos-1")] == [1, 4, 5, 6]
        assert _hello(store, "pos-1", [NOW, 0], NOW).committed_seq == 1
        late = _up(store, agent, raw[1:3])
        assert late.committed_seq == 6
        assert [b for _, b in store.committed("pos-1")] == raw

    def test_unregistered_device_waits_in_quarantine_until_registered(self, store, tmp_path):
        """Uploads of an unknown device are quarantined and committed once it is registered."""
        agent = _agent(tmp_path)
        res = _up(store, agent, _raw(agent))
        assert [r for r, _ in res.quarantined] == ["unregistered_device"]
        assert store.register_device(COOP, "pos-1", agent.public_key) == 1
        assert [b for _, b in store.committed("pos-1")] == _raw(agent)
        assert store.quarantined("pos-1")[0]["resolved_at"] is not None

    @pytest.mark.parametrize(
        ("reason", "make"),
        [
            ("bad_signature", lambda a: _forge(a, DeviceKey.generate())),
            ("broken_chain", lambda a: _forge(a, a.key, prev_hash=b"\x07" * 32)),
            ("unknown_type", lambda a: _forge(a, a.key, type="GoldMined")),
            ("invalid_payload", lambda a: _forge(a, a.key, payload={"sku": "X", "unit_price": -5})),
            (
                "not_edge_event",
                lambda a: _forge(
                    a, a.key, type="CardBlocked", aggregate_id="C1", payload={"reason": "lost"}
                ),
            ),
            ("coop_mismatch", lambda a: _forge(a, a.key, coop_id=OTHER)),
            ("undecodable", lambda a: b"\xc1\x00garbage"),
        ],
    )
    def test_bad_events_are_quarantined_with_their_reason(self, store, tmp_path, reason, make):
        """Each kind of bad event is quarantined with its reason; later good events still commit."""
        agent = _agent(tmp_path, n=2)
        store.register_device(COOP, "pos-1", agent.public_key)
        _up(store, agent, _raw(agent))
        bad = make(agent)
        res = _up(store, agent, [bad])
        assert [r for r, _ in res.quarantined] == [reason]
        assert store.quarantined("pos-1")[-1]["reason"] == reason
        assert any(i.subject == f"kop.q.{reason}" for i in store.outbox())
        agent.record("PriceSet", {"sku": "BRS-5", "unit_price": 70_000}, "BRS-5")
        assert _up(store, agent, _raw(agent)[-1:]).committed == 1

    def test_an_empty_batch_is_quarantined_not_ignored(self, store, tmp_path):
        """A well-formed batch of no events is quarantined as undecodable (the malformed fault
        scenario found it left no trace at all)."""
        agent = _agent(tmp_path, n=1)
        store.register_device(COOP, "pos-1", agent.public_key)
        res = _up(store, agent, [])
        assert [r for r, _ in res.quarantined] == ["undecodable"]
        assert "no events" in store.quarantined("pos-1")[-1]["detail"]

    def test_uploads_of_a_retired_device_are_quarantined(self, store, tmp_path):
        """After a device is retired its uploads are quarantined, not committed."""
        import sqlalchemy as sa

        from central_projector.record.tables import devices

        agent = _agent(tmp_path, n=3)
        store.register_device(COOP, "pos-1", agent.public_key)
        _up(store, agent, _raw(agent)[:1])
        with store.engine.begin() as conn:
            conn.execute(sa.update(devices).values(retired=True))
        res = _up(store, agent, _raw(agent)[1:])
        assert [r for r, _ in res.quarantined] == ["retired_device"]
        assert [s for s, _ in store.committed("pos-1")] == [1]

    def test_equivocation_is_quarantined(self, store, tmp_path):
        """A second, different, validly signed event for a committed seq is quarantined."""
        agent = _agent(tmp_path, n=2)
        store.register_device(COOP, "pos-1", agent.public_key)
        _up(store, agent, _raw(agent))
        first = Envelope.decode(_raw(agent)[0])
        twin = seal(
            agent.key,
            event_id="99999999-2222-3333-4444-555555555555",
            coop_id=COOP,
            device_id="pos-1",
            seq=1,
            hlc=first.hlc,
            type="PriceSet",
            version=1,
            aggregate_id="X",
            payload={"sku": "X", "unit_price": 1},
            prev_hash=first.prev_hash,
        )
        assert [r for r, _ in _up(store, agent, [twin.encode()]).quarantined] == ["equivocation"]

    def test_garbage_oversize_and_wrong_subject_messages(self, store, tmp_path):
        """Whole messages that are garbage, oversize or on a foreign subject are quarantined."""
        agent = _agent(tmp_path, n=1)
        store.register_device(COOP, "pos-1", agent.public_key)
        subject = subjects.upload(COOP, "pos-1")
        assert (
            store.process_upload(subject, os.urandom(300), NOW).quarantined[0][0] == "undecodable"
        )
        big = encode_batch(COOP, "pos-1", [os.urandom(4096)] * 400)
        assert store.process_upload(subject, big, NOW).quarantined[0][0] == "oversize"
        other = subjects.upload(OTHER, "pos-1")
        res = store.process_upload(other, encode_batch(OTHER, "pos-1", _raw(agent)), NOW)
        assert res.quarantined[0][0] == "coop_mismatch"

    def test_an_upload_of_500000_empty_events_costs_one_small_record(self, store, tmp_path):
        """155 bytes of zstd holding 500,000 empty "events" are one oversize record, a few
        hundred bytes of store (not a row and a message per "event")."""
        agent = _agent(tmp_path, n=1)
        store.register_device(COOP, "pos-1", agent.public_key)
        store.mark_published([i.id for i in store.outbox()])  # its DeviceRegistered
        data = encode_batch(COOP, "pos-1", [b""] * 500_000)
        started = time.monotonic()
        res = store.process_upload(subjects.upload(COOP, "pos-1"), data, NOW)
        print(f"500,000 empty events: {len(data)} bytes, ingested in "
              f"{time.monotonic() - started:.3f} s")  # fmt: skip
        assert [r for r, _ in res.quarantined] == ["oversize"]
        [row] = store.quarantined("pos-1")
        assert "500000 events" in row["detail"]
        assert len(store.outbox()) == 1
        assert len(data) < 1000

    def test_a_batch_of_mostly_garbage_is_one_record(self, store, tmp_path):
        """A batch with more than 16 refused events is quarantined whole, as one record that
        counts them; its valid events wait for the device to send them apart."""
        agent = _agent(tmp_path, n=2)
        store.register_device(COOP, "pos-1", agent.public_key)
        raw = _raw(agent)
        garbage = [raw[0], *([b"\x93sampah"] * 1000), raw[1]]
        res = _up(store, agent, garbage)
        assert (res.committed, [r for r, _ in res.quarantined]) == (0, ["garbage_batch"])
        [row] = store.quarantined("pos-1")
        assert row["detail"] == "1000 of 1002 events refused (undecodable 1000)"
        assert store.device_status()[0]["quarantined"] == 1
        few = [raw[0], *([b"\x93sampah"] * 16), raw[1]]
        res = _up(store, agent, few)
        assert (res.committed, len(res.quarantined)) == (2, 16)

    def test_clock_skew_is_flagged_not_refused(self, store, tmp_path):
        """An event stamped more than 24 h after its receipt is committed and counted as skew."""
        agent = _agent(tmp_path, n=1)
        store.register_device(COOP, "pos-1", agent.public_key)
        wall = Envelope.decode(_raw(agent)[0]).hlc.wall
        received = wall - 25 * 3600 * 1000
        res = _up(store, agent, _raw(agent), now=received)
        assert res.committed == 1
        assert store.device_status()[0]["clock_skew"] == 1
        with store.engine.connect() as conn:  # ordered as of its receipt, flagged
            row = conn.execute(
                sa.select(events.c.hlc_wall, events.c.hlc_counter, events.c.flags).where(
                    events.c.device_id == "pos-1"  # not the central's DeviceRegistered
                )
            )
            assert tuple(row.one()) == (received, 0, "CLOCK_SKEW")

    def test_a_gap_timeout_checks_the_held_events_chain(self, store, tmp_path):
        """Held events released by the gap timeout must link to each other: a forged one is
        quarantined and removed, a gap is noted at its seq, its successors stay held."""
        agent = _agent(tmp_path, n=6)
        store.register_device(COOP, "pos-1", agent.public_key)
        raw = _raw(agent)
        forged = _forge(agent, agent.key, seq=5, prev_hash=b"\x05" * 32)
        _up(store, agent, raw[:1])
        _up(store, agent, [raw[3], forged, raw[5]])
        assert store.release_expired_gaps(NOW + 60_000, timeout_ms=60_000) == 1
        assert [s for s, _ in store.committed("pos-1")] == [1, 4]
        assert [(q["reason"], q["seq"]) for q in store.quarantined("pos-1")] == [
            ("broken_chain", 5)
        ]
        status = store.device_status()[0]
        assert (status["held"], status["gaps"], status["quarantined"]) == (1, 2, 1)  # 2-3, 5
        late = _up(store, agent, raw[1:5], now=NOW + 70_000)
        assert late.committed_seq == 6
        assert [b for _, b in store.committed("pos-1")] == raw

    def test_issue_chains_signs_and_queues_for_the_downlink(self, store):
        """Central-issued events are signed by the central key, chained, and queued per coop."""
        a = store.issue("CardBlocked", COOP, {"reason": "dilaporkan hilang"}, "KHBS-0001", NOW)
        b = store.issue("PriceSet", OTHER, {"sku": "LPG-3", "unit_price": 19_000}, "LPG-3", NOW)
        a.verify_signature(store.central_public_key())
        assert (a.seq, b.seq, b.prev_hash) == (1, 2, a.hash)
        subjects_out = [i.subject for i in store.outbox()]
        assert f"kop.down.{COOP}" in subjects_out and f"kop.down.{OTHER}" in subjects_out


class TestSQLite(CentralStoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'central.db'}"


@pytest.mark.postgres
class TestPostgres(CentralStoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations(range(8)), dup=st.lists(st.integers(0, 7), max_size=6))
def test_any_delivery_order_with_duplicates_commits_the_same_log(tmp_path_factory, order, dup):
    """Batches delivered in any order, with duplicates, commit exactly the device's log once."""
    tmp = tmp_path_factory.mktemp("perm")
    agent = _agent(tmp, n=16)
    raw = _raw(agent)
    batches = [raw[i * 2 : i * 2 + 2] for i in range(8)]
    with CentralStore(f"sqlite:///{tmp / 'c.db'}") as store:
        store.register_device(COOP, "pos-1", agent.public_key)
        for i in [*order, *dup]:
            _up(store, agent, batches[i])
        assert [b for _, b in store.committed("pos-1")] == raw
        assert store.device_status()[0]["committed_seq"] == 16
    agent.close()


def test_out_of_order_events_inside_one_upload_commit(tmp_path: Path) -> None:
    """An upload whose events arrive out of order (and a duplicate) still commits each once."""
    agent = _agent(tmp_path, n=6)
    raw = _raw(agent)
    with CentralStore(f"sqlite:///{tmp_path / 'c.db'}") as store:
        store.register_device(COOP, "pos-1", agent.public_key)
        res = _up(store, agent, [raw[0], raw[3], raw[2], raw[1], raw[2], raw[5], raw[4]])
        assert (res.committed, res.duplicates, res.committed_seq) == (6, 1, 6)
        assert [b for _, b in store.committed("pos-1")] == raw
        assert store.device_status()[0]["held"] == 0
    agent.close()
