"""A hub's permissions on the province follow its cooperative's devices, and name nothing of
another cooperative's (pure: the registry and the rendered include file)."""

from __future__ import annotations

from central_projector.security.hubpolicy import hub_permissions, lan_users
from central_projector.security.registry import AuthRegistry
from central_projector.security.render import render
from sync_core import subjects

COOP, OTHER = "6472021005", "6201012003"
KEYS = iter("U" + c * 55 for c in "BCDEFGHIJKLMNOPQ")


def _registry() -> AuthRegistry:
    r = AuthRegistry().with_central(next(KEYS), rotate=False, now="")
    r = r.with_device(COOP, "kasir-1", next(KEYS), now="")
    r = r.with_device(OTHER, "toko-1", next(KEYS), now="")
    return r.with_hub(COOP, next(KEYS), now="")


def test_the_hub_may_do_what_its_devices_may_and_source_its_own_events() -> None:
    """Uploads, inboxes and the sourcing consumer are the cooperative's own; nothing names
    the other cooperative or its device."""
    perms = hub_permissions(COOP, ["kasir-1", "kasir-2"])
    assert subjects.upload(COOP, "kasir-2") in perms.publish
    assert "_INBOX_kasir-2.>" in perms.subscribe
    [create] = [p for p in perms.publish if "CONSUMER.CREATE.KOP_EVENTS.*" in p]
    assert create.endswith(subjects.coop_events(COOP))
    assert f"KOP.HUB.{COOP}.>" in perms.subscribe
    everything = " ".join(perms.publish + perms.subscribe)
    assert OTHER not in everything and "toko-1" not in everything
    deletes = [p for p in perms.publish if p.startswith("KOP.JS.API.CONSUMER.DELETE.KOP_EVENTS")]
    assert sorted(deletes) == [  # only its devices' own sibling consumers, no wildcard
        "KOP.JS.API.CONSUMER.DELETE.KOP_EVENTS.sib-kasir-1",
        "KOP.JS.API.CONSUMER.DELETE.KOP_EVENTS.sib-kasir-2",
    ]


def test_a_device_added_to_the_cooperative_widens_its_hub_at_the_next_render() -> None:
    """The rendered hub user gains the new device's inbox; the other cooperative's stays out;
    the hubs' deliveries are exported to the devices' account as a stream."""
    before = render(_registry())
    after = render(_registry().with_device(COOP, "kasir-2", next(KEYS), now=""))
    hub_block = after[after.index(f"# hub of cooperative {COOP}") :]
    assert "_INBOX_kasir-2.>" in hub_block and "_INBOX_kasir-2.>" not in before
    assert "_INBOX_toko-1.>" not in hub_block
    assert '{ stream: "KOP.HUB.>" }' in after


def test_lan_users_list_the_cooperatives_devices_with_their_own_subjects() -> None:
    """Each device on the hub may publish its LAN subject and read its own KOP_LAN consumer."""
    doc = lan_users(COOP, [("kasir-1", "U" + "Z" * 55)])
    [user] = doc["users"]
    allow = user["permissions"]["publish"]["allow"]
    assert subjects.lan(COOP, "kasir-1") in allow
    assert "$JS.API.CONSUMER.MSG.NEXT.KOP_LAN.lan-kasir-1" in allow
    assert user["permissions"]["subscribe"]["allow"] == ["_INBOX_kasir-1.>"]
