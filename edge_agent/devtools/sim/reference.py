"""Reference data "from the central": founders, prices, quotas, the fund, cards and aid.

Installed as if received over the downlink: envelopes of issuers ``sim-founder`` and
``sim-central``, chained from seq 1 and signed by keys derived from (coop_id, seed), which
the device pins as it would the central's (``kopsync edge verify`` checks them with it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from typing import Any

from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim.pool import Person, Pool
from edge_agent.devtools.sim.world import CYCLES, FAMILIES, FOUNDERS, START
from edge_agent.domain.aid import entitlement_key
from edge_agent.domain.membership import member_key
from schemas import REGISTRY
from sync_core.envelope import Envelope, seal
from sync_core.errors import UsageError
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, DeviceKey

CENTRAL_DEVICE = "sim-central"
FOUNDER_DEVICE = "sim-founder"


class _Chain:
    """Consecutive, hash-chained, signed envelopes of one simulated issuer."""

    def __init__(self, pool: Pool, device_id: str) -> None:
        secret = f"kopsync-sim|{pool.coop_id}|{pool.seed}|{device_id}".encode()
        self.key = DeviceKey(hashlib.sha256(secret).digest())
        self.pool = pool
        self.device_id = device_id
        self.envelopes: list[Envelope] = []
        self.wall = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)

    def add(self, event_type: str, aggregate_id: str, **payload: Any) -> None:
        seq = len(self.envelopes) + 1
        digest = hashlib.sha256(f"ref|{self.pool.tag}|{self.device_id}|{seq}".encode()).digest()
        env = seal(
            self.key,
            event_id=str(uuid.UUID(bytes=digest[:16], version=4)),
            coop_id=self.pool.coop_id,
            device_id=self.device_id,
            seq=seq,
            hlc=Hlc(self.wall + seq, 0),
            type=event_type,
            version=REGISTRY.latest_version(event_type),
            aggregate_id=aggregate_id,
            payload=REGISTRY.validate(event_type, payload),
            prev_hash=self.envelopes[-1].hash if self.envelopes else GENESIS_HASH,
        )
        self.envelopes.append(env)


def issuer_keys(pool: Pool) -> dict[str, bytes]:
    """The public keys the simulated issuers sign with."""
    return {d: _Chain(pool, d).key.public_key for d in (FOUNDER_DEVICE, CENTRAL_DEVICE)}


def reference_events(pool: Pool) -> list[Envelope]:
    """The seed's reference data: founders, prices, quotas, the fund, families, cards, aid."""
    founding = _Chain(pool, FOUNDER_DEVICE)
    for f in range(FOUNDERS):
        p = pool.founder(f)
        fields = {k: v for k, v in vars_of(p).items() if v is not None}
        founding.add("MemberRegistered", pool.founder_id(f), **fields)
        founding.add("MembershipApproved", pool.founder_id(f), approved_on="2025-12-01")
    c = _Chain(pool, CENTRAL_DEVICE)
    c.add(
        "StimulusFundAllocated",
        pool.fund_id,
        amount=250_000_000,
        program_year=2026,
        source="APBD Provinsi (simulasi)",
    )
    for n, (amount, on) in enumerate(
        ((150_000_000, START.isoformat()), (100_000_000, "2026-07-01"))
    ):
        c.add(
            "StimulusTrancheDisbursed",
            pool.fund_id,
            amount=amount,
            tranche_no=n + 1,
            disbursed_on=on,
        )
    for sku, price in pool.prices.items():
        c.add("PriceSet", sku, sku=sku, unit_price=price, effective_from="2026-01-01")
    for cycle in CYCLES:
        c.add("QuotaAllocated", "LPG-3KG", program="LPG_3KG", sku="LPG-3KG", qty=300, period=cycle)
    for fam in range(FAMILIES):
        head, ben = pool.person(fam * 3), pool.beneficiary_id(fam)
        c.add(
            "BeneficiaryEnrolled",
            ben,
            kk_no=head.kk_no,
            home_coop=pool.coop_id,
            head_name=head.name,
        )
        c.add("CardIssued", pool.card_uid(fam), beneficiary_id=ben)
        if pool.card_blocked(fam):
            c.add("CardBlocked", pool.card_uid(fam), reason="kartu hilang (simulasi)")
    worth: Counter[tuple[str, str]] = Counter()
    count: Counter[tuple[str, str]] = Counter()
    for e in pool.entitlements:
        what: dict[str, Any] = (
            {"value": e.value} if e.value else {"items": [{"sku": "BERAS-SPHP-5KG", "qty": 2}]}
        )
        c.add(
            "EntitlementGranted",
            e.id,
            beneficiary_id=pool.beneficiary_id(e.family),
            card_uid=e.card_uid,
            program=e.program,
            cycle=e.cycle,
            **what,
        )
        worth[(e.program, e.cycle)] += e.worth
        count[(e.program, e.cycle)] += 1
    for (program, cycle), n in sorted(count.items()):
        cap = worth[(program, cycle)]
        c.add(
            "RedemptionAllowanceAllocated",
            pool.allowance_id(program, cycle),
            scope="COOP",
            program=program,
            cycle=cycle,
            max_count=n,
            max_value=cap,
        )
    return founding.envelopes + c.envelopes


def vars_of(p: Person) -> dict[str, Any]:
    return {k: getattr(p, k) for k in Person.__slots__}


def install_reference(agent: EdgeAgent, pool: Pool) -> int:
    """Receive the seed's reference events once; returns how many were new.

    The two chains are judged apart: a device that already received the central's own
    reference data over the downlink (as in ``kopsync demo``, where the central issues
    :func:`reference_events`' aid, prices and fund) gets only the founding members.
    """
    envs = reference_events(pool)
    wanted: list[Envelope] = []
    if agent.view(member_key(pool.founder_id(FOUNDERS - 1))) is None:
        wanted += [e for e in envs if e.device_id == FOUNDER_DEVICE]
    # The first cycle's first entitlement: every issue of the reference data starts with it.
    if agent.view(entitlement_key(pool.entitlements[0].id)) is None:
        # The downlink keeps one chain per issuer: another seed's sim-central chain would hide
        # ours.
        ours = next(e for e in envs if e.device_id == CENTRAL_DEVICE)
        held = agent.store.downlink.select_events(CENTRAL_DEVICE, limit=1)
        if held and Envelope.decode(held[0].state).event_id != ours.event_id:
            raise UsageError(
                f"this device already holds the simulated reference data of another seed; "
                f"simulate it with the seed it was simulated with before, or use a fresh device "
                f"(seed {pool.seed} would need its own {CENTRAL_DEVICE} chain)"
            )
        wanted += [e for e in envs if e.device_id == CENTRAL_DEVICE]
    if not wanted:
        return 0
    for issuer, key in issuer_keys(pool).items():
        agent.store.pin_issuer(issuer, key)
    return len(agent.receive_central(wanted))
