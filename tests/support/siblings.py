"""A cooperative's devices without a network: a central issuer in memory and delivery by hand.

The issuer seals ``DeviceRegistered`` facts as the central does; a device receives them as
its downlink would, and receives its siblings' stored bytes as the sibling feed would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_agent.app.agent import EdgeAgent
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.ids import new_event_id
from sync_core.signing import GENESIS_HASH, DeviceKey

COOP = "6208010003"  # a made-up village code within Seruyan


class Issuer:
    """The central's issuer key and chain."""

    def __init__(self, coop_id: str = COOP) -> None:
        self.coop_id = coop_id
        self.key = DeviceKey.generate()
        self.events: list[Envelope] = []

    def issue(self, type_: str, aggregate_id: str, payload: dict[str, Any]) -> Envelope:
        prev = self.events[-1].hash if self.events else GENESIS_HASH
        env = seal(
            self.key,
            event_id=new_event_id(),
            coop_id=self.coop_id,
            device_id="central",
            seq=len(self.events) + 1,
            hlc=Hlc(1_000 + len(self.events), 0),
            type=type_,
            version=1,
            aggregate_id=aggregate_id,
            payload=payload,
            prev_hash=prev,
        )
        self.events.append(env)
        return env

    def register(self, agent: EdgeAgent) -> Envelope:
        fact = {"coop_id": agent.coop_id, "public_key": agent.public_key}
        return self.issue("DeviceRegistered", agent.device_id, fact)


def devices(root: Path, names: list[str], coop_id: str = COOP) -> tuple[Issuer, list[EdgeAgent]]:
    """Devices of one cooperative that know each other's keys (the downlink delivered them)."""
    issuer = Issuer(coop_id)
    agents = [EdgeAgent.init(root / n, coop_id, n) for n in names]
    facts = [issuer.register(a) for a in agents]
    for a in agents:
        a.store.pin_issuer("central", issuer.key.public_key)  # as the first hello does
        a.receive_central(facts)
    return issuer, agents


def member(agent: EdgeAgent, member_id: str, n: int) -> Envelope:
    """Register member ``member_id`` on ``agent`` (``n`` makes its NIK and KK its own)."""
    desa = agent.coop_id[:10]
    registered = {
        "nik": f"{desa[:6]}{n:010d}",
        "kk_no": f"{desa[:6]}{n + 1:010d}",
        "name": f"Anggota {n}",
        "birth_date": "1990-01-01",
        "desa_code": desa,
    }
    return agent.record("MemberRegistered", registered, member_id)


def raw(agent: EdgeAgent, since: int = 0) -> list[bytes]:
    """The stored bytes of a device's own events after ``since``."""
    return [bytes(data) for _, data in agent.store.raw_events(since)]


def rule_views(agent: EdgeAgent) -> dict[str, Any]:
    """Every rule view of the device (the ``@`` bookkeeping views aside)."""
    return dict(agent.store.views(""))
