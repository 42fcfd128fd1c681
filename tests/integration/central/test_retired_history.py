"""A device retired by ``kopsync admin device revoke``: the central's ``DeviceRetired`` names
the last seq it had committed of it, and a sibling takes the retired device's events up to
there (even when they reach it after the retirement) and refuses the later ones."""

from __future__ import annotations

from pathlib import Path

from support.siblings import member, raw

from central_projector.record.store import CentralStore
from central_projector.security import admin, authfile
from central_projector.security.credentials import new_user_key
from edge_agent.app.agent import EdgeAgent
from edge_agent.domain.savings import account_key
from sync_core import subjects
from sync_core.batch import encode_batch
from sync_core.envelope import Envelope

COOP = "6208010003"
NOW = 1_770_000_000_000
OPENED = {"member_id": "M-1", "product": "SUKARELA", "opened_on": "2026-03-01"}


def test_a_retired_devices_committed_history_reaches_its_siblings(tmp_path: Path) -> None:
    """Seq 1-2 committed, then revoked: the fact says last_seq 2; the sibling, told of the
    retirement first, takes 1-2 and refuses 3 (recorded after, never committed)."""
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    desk = EdgeAgent.init(tmp_path / "desk", COOP, "desk")
    shop = EdgeAgent.init(tmp_path / "shop", COOP, "shop")
    auth = tmp_path / "users.conf"
    try:
        for agent in (desk, shop):
            store.register_device(COOP, agent.device_id, agent.public_key)
        member(desk, "M-1", 1)
        desk.record("SavingsAccountOpened", OPENED, "S-1")
        subject = subjects.upload(COOP, "desk")
        store.process_upload(subject, encode_batch(COOP, "desk", raw(desk)), NOW)
        desk.record("SavingsDeposited", {"amount": 5_000, "receipt_no": "KW-1"}, "S-1")
        central_key, device_key = new_user_key(), new_user_key()
        authfile.change(
            auth,
            lambda r: r.with_central(central_key.public, rotate=False, now="").with_device(
                COOP, "desk", device_key.public, now=""
            ),
        )
        done = admin.revoke_device(auth, "desk", store.url)
        assert done.retired

        facts = [
            Envelope.decode(item.data)
            for item in store.outbox()
            if item.subject == subjects.downlink(COOP)
        ]
        retired = [f for f in facts if f.type == "DeviceRetired"]
        assert [f.payload["last_seq"] for f in retired] == [2]
        shop.store.pin_issuer(store.issuer_id, store.central_public_key())
        shop.receive_central(facts)
        receipt = shop.receive_siblings(raw(desk))
        assert [env.seq for env in receipt.taken] == [1, 2]
        assert [(v.reason, v.env.seq if v.env else 0) for v in receipt.refused] == [
            ("retired_device", 3)
        ]
        assert shop.view(account_key("S-1"))["balance"] == 0
    finally:
        store.close()
        desk.close()
        shop.close()
