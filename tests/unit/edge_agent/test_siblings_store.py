"""A device takes in its siblings' events: checked against the registry and the chain, held
when they must wait, refused when forged, folded into its rule views in total order."""

from __future__ import annotations

from pathlib import Path

from support.siblings import devices, member, raw, rule_views

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.integrity import examine
from edge_agent.app.lookup import sync_status
from edge_agent.domain.fold import fold
from edge_agent.domain.savings import account_key
from sync_core.envelope import Envelope, seal
from sync_core.signing import DeviceKey

OPENED = {"member_id": "M-1", "product": "SUKARELA", "opened_on": "2026-03-01"}


def test_an_account_opened_on_a_sibling_takes_a_deposit_here(tmp_path: Path) -> None:
    """B takes A's opening, then records a deposit on it; A takes the deposit back."""
    _, (a, b) = devices(tmp_path, ["desk", "shop"])
    member(a, "M-1", 1)
    a.record("SavingsAccountOpened", OPENED, "S-1")
    receipt = b.receive_siblings(raw(a))
    assert (len(receipt.taken), receipt.refused) == (2, [])
    b.record("SavingsDeposited", {"amount": 50_000, "receipt_no": "KW-1"}, "S-1")
    a.receive_siblings(raw(b))
    for agent in (a, b):
        assert agent.view(account_key("S-1"))["balance"] == 50_000
    assert a.status()["siblings"] == [{"device_id": "shop", "applied_seq": 1}]
    assert sync_status(b)["siblings"] == [{"device_id": "desk", "applied_seq": 2}]


def test_duplicates_and_own_events_change_nothing(tmp_path: Path) -> None:
    """The same sibling event twice, and the device's own events fed back, are no-ops."""
    _, (a, b) = devices(tmp_path, ["desk", "shop"])
    member(a, "M-1", 1)
    a.record("SavingsAccountOpened", OPENED, "S-1")
    b.receive_siblings(raw(a))
    before = rule_views(b)
    b.record("SavingsDeposited", {"amount": 1_000, "receipt_no": "KW-1"}, "S-1")
    again = b.receive_siblings(raw(a) + raw(b))
    assert (again.taken, again.duplicates, again.refused) == ([], 2, [])
    assert (
        rule_views(b)[account_key("S-1")]["balance"]
        == before[account_key("S-1")]["balance"] + 1_000
    )


def test_a_forged_or_resigned_event_is_refused(tmp_path: Path) -> None:
    """An event re-signed by another key, or changed after signing, is refused and not applied."""
    _, (a, b) = devices(tmp_path, ["desk", "shop"])
    member(a, "M-1", 1)
    b.receive_siblings(raw(a))
    env = a.record("SavingsAccountOpened", OPENED, "S-1")
    resigned = _resign(env, DeviceKey.generate())
    receipt = b.receive_siblings([resigned.encode()])
    assert [v.reason for v in receipt.refused] == ["bad_signature"]
    tampered = bytearray(env.encode())
    tampered[tampered.index(b"M-1")] = ord("X")
    receipt = b.receive_siblings([bytes(tampered)])
    assert [v.reason for v in receipt.refused] == ["bad_signature"]
    assert b.view(account_key("S-1")) is None
    assert b.status()["siblings"] == [{"device_id": "desk", "applied_seq": 1}]
    assert [r["reason"] for r in b.store.meta("sibling_refused")] == ["bad_signature"] * 2


def test_an_unregistered_sibling_waits_for_its_registration(tmp_path: Path) -> None:
    """Events of a device the registry does not name yet are held, then taken once it does."""
    issuer, (a,) = devices(tmp_path, ["desk"])
    late = EdgeAgent.init(tmp_path / "tablet", a.coop_id, "tablet")
    member(late, "M-1", 1)
    late.record("SavingsAccountOpened", OPENED, "S-9")
    held = a.receive_siblings(raw(late))
    assert (held.taken, held.held) == ([], 2)
    a.receive_central([issuer.register(late)])
    taken = a.receive_siblings([])
    assert (len(taken.taken), taken.held) == (2, 0)
    assert a.view(account_key("S-9")) is not None


def test_a_gap_is_held_until_it_fills_and_a_broken_chain_is_refused(tmp_path: Path) -> None:
    """Seq 3 before seq 2 waits; a seq 2 that does not link to seq 1 is refused."""
    _, (a, b) = devices(tmp_path, ["desk", "shop"])
    member(a, "M-1", 1)
    for n in range(2):
        a.record("SavingsAccountOpened", OPENED, f"S-{n}")
    first, second, third = raw(a)
    assert b.receive_siblings([first, third]).held == 1
    forked = _resign(Envelope.decode(second), a.key, prev_hash=bytes(32))
    assert [v.reason for v in b.receive_siblings([forked.encode()]).refused] == ["broken_chain"]
    assert len(b.receive_siblings([second]).taken) == 2
    assert b.status()["siblings"] == [{"device_id": "desk", "applied_seq": 3}]


def test_late_events_fold_in_total_order(tmp_path: Path) -> None:
    """Whatever order the events arrive in, the views equal the fold of all of them."""
    issuer, (a, b, c) = devices(tmp_path, ["desk", "shop", "depot"])
    member(a, "M-1", 1)
    a.record("SavingsAccountOpened", OPENED, "S-1")
    b.receive_siblings(raw(a))
    b.record("SavingsDeposited", {"amount": 7_000, "receipt_no": "KW-1"}, "S-1")
    c.receive_siblings(raw(b))  # the deposit before the opening it needs
    c.receive_siblings(raw(a))
    everything = sorted(
        [Envelope.decode(d) for d in raw(a) + raw(b)] + issuer.events, key=lambda e: e.order_key
    )
    for agent in (b, c):
        assert rule_views(agent) == _plain(fold(everything))
        report = examine(agent)  # `kopsync edge verify`: the seal and the fold agree
        assert report.ok, report


def _plain(views: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in views.items() if not k.startswith("@")}


def _resign(env: Envelope, key: DeviceKey, prev_hash: bytes | None = None) -> Envelope:
    return seal(
        key,
        event_id=env.event_id,
        coop_id=env.coop_id,
        device_id=env.device_id,
        seq=env.seq,
        hlc=env.hlc,
        type=env.type,
        version=env.version,
        aggregate_id=env.aggregate_id,
        payload=dict(env.payload),
        prev_hash=env.prev_hash if prev_hash is None else prev_hash,
    )


def test_a_retired_siblings_history_is_taken_and_nothing_after(tmp_path: Path) -> None:
    """Retired after its seq 2 was committed: its events up to 2 are taken even when they
    arrive after the retirement, its seq 3 is refused; a retirement that names no point
    refuses everything, as before."""
    issuer, (a, b, c) = devices(tmp_path, ["desk", "shop", "depot"])
    member(a, "M-1", 1)
    a.record("SavingsAccountOpened", OPENED, "S-1")
    a.record("SavingsDeposited", {"amount": 5_000, "receipt_no": "KW-1"}, "S-1")
    retired = issuer.issue("DeviceRetired", "desk", {"reason": "hilang", "last_seq": 2})
    b.receive_central([retired])
    receipt = b.receive_siblings(raw(a))
    assert [env.seq for env in receipt.taken] == [1, 2]
    assert [(v.reason, v.env.seq if v.env else None) for v in receipt.refused] == [
        ("retired_device", 3)
    ]
    assert b.view(account_key("S-1"))["balance"] == 0
    assert b.status()["siblings"] == [{"device_id": "desk", "applied_seq": 2}]

    old_style = issuer.issue("DeviceRetired", "shop", {"reason": "hilang"})
    c.receive_central([old_style])
    b.record("SavingsDeposited", {"amount": 1_000, "receipt_no": "KW-2"}, "S-1")
    refused = c.receive_siblings(raw(b))
    assert {v.reason for v in refused.refused} == {"retired_device"}
