"""The demo's plan, decided before anything runs: rounds, who is online, what each records.

Pure data (decide, then act: :mod:`kopsync.demo.act` carries it out). Every device records its
share of a realistic simulated workload (:mod:`edge_agent.devtools.sim`) in every round; a
device that is offline in a round keeps its events until a later round's sync. On top of
that the plan stages the conflicts that only offline operation produces, with invented
people:

- DUPLICATE_REDEMPTION: a Kalampangan family (Palangka Raya) whose SEMBAKO entitlement the
  province also sent to Bapinang Hilir (Kotawaringin Timur), where it stays during the harvest;
  both counters are offline and both accept the KHBS card.
- OVERSPEND: Paser Belengkong's two counters share a cooperative allowance of three BLT
  redemptions; offline, each pays out two. And one family's card, redeemed at the first,
  pays for goods at the second's shop: one card wallet spent beyond its value.
- RECOVERY_AFTER_WRITE_OFF and LATE_REPAYMENT: the province writes off a Lempake loan while the
  savings-and-loans counter is offline; the counter then records a repayment dated the day
  before the write-off (late) and one after it (a recovery).

Bapinang Hilir's three counters share a hub on site: they see each other's events as they
record (no same-cooperative duplicates), and in the round before the last its satellite is
down too, while the counters go on sharing over the LAN.

Round 1 everyone is online; the last round the link comes back everywhere. In the rounds
between, devices take turns being offline; the staged offline cases happen in the round before
the last, with the devices involved offline from round 2 on where the story needs it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from edge_agent.devtools.sim import CENTRAL_DEVICE, EVENTS_PER_DAY, START, Pool, reference_events
from kopsync.demo.places import COOPERATIVES, HUB_COOP, Cooperative
from kopsync.demo.staged import (
    DUP_COUNTERS,
    LOAN_COUNTER,
    OVERSPEND_COUNTERS,
    PLANNED,
    Issue,
    Planned,
    Record,
    aid,
    loan,
    offline_cases,
    write_off,
)

SEED = 1
HUB_NAME = "Bapinang Hilir"


@dataclass(frozen=True, slots=True)
class Round:
    number: int
    title: str
    issue_before: tuple[Issue, ...]
    simulated: dict[str, int]  # device id -> simulated events this round
    staged: tuple[Record, ...]
    online: frozenset[str]  # the devices that sync at the end of the round
    satellite_down: bool = False  # the hub's cooperative is cut off from the province


@dataclass(frozen=True, slots=True)
class Plan:
    cooperatives: tuple[Cooperative, ...]
    reference: tuple[Issue, ...]  # issued before round 1, received by every device
    rounds: tuple[Round, ...]
    planned: tuple[Planned, ...] = field(default=())
    hub_devices: tuple[str, ...] = ()  # the devices of the cooperative with a hub

    @property
    def devices(self) -> list[str]:
        return [d for c in self.cooperatives for d in c.devices]


def plan(cooperatives: int, events: int, rounds: int) -> Plan:
    """The plan for ``cooperatives`` cooperatives, ``events`` simulated events per device."""
    coops = COOPERATIVES[:cooperatives]
    devices = [d for c in coops for d in c.devices]
    hub_devices = tuple(d for c in coops if c.coop_id == HUB_COOP for d in c.devices)
    share = _shares(events, rounds)
    reference = tuple(i for c in coops for i in central_reference(c.coop_id, events)) + aid()
    out: list[Round] = []
    for n in range(1, rounds + 1):
        title, offline, staged = _round(n, rounds, devices)
        before = (write_off(),) if n == 2 else ()
        down = n == rounds - 1 and bool(hub_devices)
        if down:  # the hub's cooperative is cut off too; its counters share over the LAN
            offline |= set(hub_devices)
            title += f"; {HUB_NAME}'s counters share over their hub"
        online = frozenset(d for d in devices if d not in offline)
        simulated = {d: share[n - 1] for d in devices}
        out.append(Round(n, title, before, simulated, staged, online, down))
    return Plan(coops, reference, tuple(out), PLANNED, hub_devices)


def _round(n: int, rounds: int, devices: list[str]) -> tuple[str, set[str], tuple[Record, ...]]:
    """Round ``n``'s title, offline devices and staged events."""
    if n == 1:
        return "everyone online", set(), loan()
    if n == rounds:
        return "the link comes back everywhere", set(), ()
    if n == rounds - 1:
        offline = {LOAN_COUNTER, *DUP_COUNTERS, *OVERSPEND_COUNTERS}
        return "satellite link down in four cooperatives", offline, offline_cases()
    rotating = {d for i, d in enumerate(devices) if (i + n) % 3 == 0}
    return "some counters offline", rotating | {LOAN_COUNTER}, ()


def _shares(events: int, rounds: int) -> list[int]:
    base, extra = divmod(events, rounds)
    return [base + (1 if k < extra else 0) for k in range(rounds)]


def central_reference(coop_id: str, events: int) -> list[Issue]:
    """The simulator's central reference data for the months ``events`` per device reach.

    The central issues it for real (so the central holds the entitlements and allowances the
    devices redeem against); aid of later months would only make the downlink longer.
    """
    days = (events + 2 * EVENTS_PER_DAY) // EVENTS_PER_DAY  # staged events advance seq too
    through = (START + dt.timedelta(days=days)).strftime("%Y-%m")
    out = []
    for env in reference_events(Pool(coop_id, SEED)):
        cycle = env.payload.get("cycle") or env.payload.get("period")
        if env.device_id != CENTRAL_DEVICE or (cycle is not None and cycle > through):
            continue
        out.append(Issue(env.type, coop_id, env.aggregate_id, dict(env.payload)))
    return out
