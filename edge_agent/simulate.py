"""A realistic, valid workload for one device, recorded through the teller API.

``simulate(agent, n, seed=s)`` records exactly ``n`` events of every edge area. Nothing
bypasses the rules: the generator keeps a shadow of what the rules look at (balances,
stock on hand, loan and entitlement states), read from the device's views on first use
and updated as it queues commands, so every command it issues is one the rules accept.
A refusal is a generator bug and ends the run with :class:`SimulationError`.

Shared pool. Devices of one cooperative given the same seed draw people, KHBS cards,
entitlements and goods from one pool derived from (coop_id, seed), never from the device
id. Run on two devices of a coop, that yields the cross-device cases of BRIEF §5: the
same NIK registered on both (under different member ids, sometimes spelt differently),
the same entitlement redeemed on both, the same field of the same founding member edited
on both, and stock sold below zero with an override reason. Ids minted on a device
(members, accounts, loans, sales, shipments, receipts) carry the device id, so devices
never collide by accident.

Reference data. Redemptions need entitlements, cards and allowances, which normally come
over the downlink. ``simulate`` installs a deterministic set derived from (coop_id, seed)
as if received from the central: envelopes of issuer ``sim-central``, chained from seq 1
and signed by a key derived from (coop_id, seed). The coop's founding members (whose
profiles every device later edits) arrive the same way, as the relayed events of a
founding device ``sim-founder``. Receiving is idempotent: a second run installs nothing.

Continuation. A later run on the same device reads the device's log (ids, open loans,
WAJIB periods, its place in the pool) and views (balances, stock) and carries on with
new ids (they contain the seq). Its random stream comes from (coop_id, device_id, seed,
last seq), so a run is reproducible from the same device state.

Dates are business dates of a simulated calendar (40 events a day from 2026-01-05), not
the wall clock, so payloads are reproducible. Village codes are made up within the
cooperative's regency.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Concatenate, ParamSpec

from edge_agent import teller
from edge_agent.agent import EdgeAgent
from edge_agent.domain.aid import entitlement_key
from edge_agent.domain.common import card_key, stock_key
from edge_agent.domain.loans import loan_key
from edge_agent.domain.savings import account_key
from edge_agent.domain.shop import price_key
from edge_agent.domain.stimulus import fund_key
from edge_agent.store import Draft
from schemas import REGISTRY
from sync_core.envelope import Envelope, seal
from sync_core.errors import KopsyncError, UsageError
from sync_core.hlc import Hlc
from sync_core.ids import region_of
from sync_core.signing import GENESIS_HASH, DeviceKey

P = ParamSpec("P")

CENTRAL_DEVICE = "sim-central"
FOUNDER_DEVICE = "sim-founder"
START = dt.date(2026, 1, 5)
EVENTS_PER_DAY = 40
CYCLES = tuple(f"2026-{m:02d}" for m in range(1, 13))
FAMILIES = 240
COUNTERS = 4
FOUNDERS = 5
GUDANG = "gudang"
MAIN = teller.MAIN

# sku, selling price (rupiah), size of a delivery, supplier
GOODS: tuple[tuple[str, int, tuple[int, int], str], ...] = (
    ("BERAS-5KG", 72_000, (20, 60), "Perum Bulog Kanwil"),
    ("BERAS-SPHP-5KG", 62_500, (20, 40), "Perum Bulog Kanwil"),
    ("MINYAKITA-1L", 15_700, (24, 72), "CV Maju Bersama"),
    ("GULA-1KG", 18_500, (20, 50), "UD Sumber Rejeki"),
    ("TELUR-1KG", 30_000, (10, 30), "Peternak Ayam Desa"),
    ("TEPUNG-1KG", 13_000, (10, 30), "UD Sumber Rejeki"),
    ("MIE-INSTAN", 3_500, (80, 200), "CV Maju Bersama"),
    ("GARAM-250G", 4_000, (20, 60), "UD Sumber Rejeki"),
    ("KOPI-SACHET", 1_500, (100, 300), "CV Maju Bersama"),
    ("SABUN-CUCI", 5_000, (24, 72), "CV Maju Bersama"),
    ("LPG-3KG", 20_000, (50, 120), "Agen LPG Pertamina"),
    ("PUPUK-UREA-50KG", 112_500, (10, 40), "Kios Pupuk Lengkap"),
)
SKUS = tuple(g[0] for g in GOODS)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MEN = _words("Muhammad Ahmad Budi Agus Rudi Hendra Yohanes Dedi Eko Rahmat Syahrul Andi Arif")
WOMEN = _words("Siti Nur Dewi Sri Rina Maria Yuliana Fitri Wahyuni Aminah Hasanah Kartini Ratna")
SURNAMES = _words(
    "Saputra Hidayat Setiawan Kurniawan Pratama Wijaya Nugroho Santoso Rahman Syahputra "
    "Lestari Handayani Wulandari Rahayu Ningsih Anggraini Ngabut Lusang Daeng Ismail Juk"
)
STREETS = ("Poros Desa", "Pemuda", "Merdeka", "Gotong Royong", "Kenanga", "Transmigrasi")
PHONE_PREFIXES = _words("811 812 813 821 822 852 853 815 816 817 818 819 859 877 878 895")
SPELLINGS = (("Muhammad", "Muhamad"), ("Siti", "Sitti"), ("Nur", "Noor"), ("Rahman", "Rachman"))
LOAN_PURPOSES = ("modal usaha warung", "pupuk dan bibit padi", "biaya sekolah anak",
                 "perbaikan perahu", "modal jualan kue", "renovasi rumah")  # fmt: skip
FUND_PURPOSES = ("WORKING_CAPITAL", "MEMBER_LOANS", "EQUIPMENT", "STOCK", "OTHER")
VERIFICATIONS = ("CHIP_PIN", "CHIP", "MANUAL")


def _h(*parts: object) -> float:
    """A number in [0, 1) that is a pure function of ``parts`` (a stable coin flip)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64


def _rng(*parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in parts))


def _day(seq: int) -> dt.date:
    return START + dt.timedelta(days=(seq - 1) // EVENTS_PER_DAY)


def _next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year + 1}-01" if month == 12 else f"{year}-{month + 1:02d}"


def _add_month(day: dt.date) -> str:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, 28)).isoformat()


def _round(amount: float, step: int) -> int:
    return max(step, int(amount // step) * step)


def _phone(r: random.Random) -> str:
    return f"+62{r.choice(PHONE_PREFIXES)}{r.randrange(10**7, 10**8)}"


def _misspelt(name: str) -> str:
    """The same person written down differently at another counter."""
    for a, b in SPELLINGS:
        if a in name:
            return name.replace(a, b, 1)
    return name + "h"


# --- the shared pool --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    nik: str
    kk_no: str
    name: str
    birth_date: str
    desa_code: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class Entitlement:
    id: str
    index: int
    family: int
    card_uid: str
    program: str
    cycle: str
    value: int | None  # None: goods (``items``) instead of a value
    worth: int  # what a redemption records as its value


class Pool:
    """People, cards, entitlements and goods of one cooperative for one seed."""

    def __init__(self, coop_id: str, seed: int) -> None:
        self.coop_id = coop_id
        self.seed = seed
        self.tag = hashlib.sha256(f"{coop_id}|{seed}".encode()).hexdigest()[:6]
        code, regency = coop_id.split("-", 1)[0], region_of(coop_id)[1]
        district = code[4:6] if len(code) >= 6 else "01"
        home = code if len(code) == 10 else f"{regency}{district}2001"
        self.desas = (home, *(f"{regency}{district}{2002 + k}" for k in range(3)))
        other = f"{int(district) % 20 + 1:02d}"
        self.neighbours = tuple(f"{regency}{other}{2001 + k}" for k in range(3))
        rng = _rng("pool", coop_id, seed)
        self.prices = {sku: _round(p * rng.uniform(0.97, 1.05), 100) for sku, p, _, _ in GOODS}
        self.wajib = rng.choice((10_000, 15_000, 20_000, 25_000))
        self.pokok = rng.choice((50_000, 100_000, 150_000))
        self.fund_id = f"SF-{self.tag}"
        self._people: dict[int, Person] = {}

    def _person(self, key: str, serial: int) -> Person:
        r = _rng("person", self.coop_id, self.seed, key)
        woman = r.random() < 0.5
        first = r.choice(WOMEN if woman else MEN)
        name = f"{first} {r.choice(SURNAMES)}" if r.random() < 0.85 else first
        born = dt.date(1950, 1, 1) + dt.timedelta(days=r.randrange(365 * 55))
        desa = r.choice(self.desas)
        # NIK: district, birth date (day + 40 for women), serial; KK: district, issue, serial.
        nik = f"{desa[:6]}{born.day + 40 * woman:02d}{born:%m%y}{serial:04d}"
        issued = dt.date(2005, 1, 1) + dt.timedelta(days=r.randrange(365 * 19))
        kk = f"{desa[:6]}{issued:%d%m%y}{serial:04d}"
        phone = None if r.random() < 0.15 else _phone(r)
        return Person(nik, kk, name, born.isoformat(), desa, phone)

    def person(self, i: int) -> Person:
        if i not in self._people:
            self._people[i] = self._person(f"p{i}", 1 + i % 9000)
        return self._people[i]

    def founder(self, f: int) -> Person:
        return self._person(f"f{f}", 9001 + f)

    def founder_id(self, f: int) -> str:
        return f"M-{self.tag}-F{f + 1:02d}"

    def walks_in_twice(self, i: int) -> bool:
        """This person registers at every counter of the coop (same NIK twice, BRIEF §5)."""
        return i == 0 or _h("dup", self.tag, i) < 0.03

    def registers_at(self, counter: int, i: int) -> bool:
        """Person ``i`` registers at ``counter`` (about one in ten at every counter too)."""
        return self.walks_in_twice(i) or int(_h("home", self.tag, i) * COUNTERS) == counter

    def card_uid(self, family: int) -> str:
        return hashlib.sha256(f"card|{self.tag}|{family}".encode()).hexdigest()[:14].upper()

    def card_blocked(self, family: int) -> bool:
        return family > 0 and _h("blocked", self.tag, family) < 0.03

    def beneficiary_id(self, family: int) -> str:
        return f"B-{self.tag}-{family:04d}"

    def allowance_id(self, program: str, cycle: str) -> str:
        return f"A-{self.tag}-{program}-{cycle.replace('-', '')}"

    @cached_property
    def entitlements(self) -> tuple[Entitlement, ...]:
        out: list[Entitlement] = []
        beras_worth = 2 * self.prices["BERAS-SPHP-5KG"]
        for cycle in CYCLES:
            for fam in range(FAMILIES):
                beras = _h("program", self.tag, fam) < 0.4
                eid = f"E-{self.tag}-{cycle.replace('-', '')}-{fam:04d}"
                program, value = ("BERAS", None) if beras else ("SEMBAKO", 200_000)
                worth = beras_worth if beras else 200_000
                out.append(
                    Entitlement(
                        eid, len(out), fam, self.card_uid(fam), program, cycle, value, worth
                    )
                )
        return tuple(out)

    @cached_property
    def entitlement_index(self) -> dict[str, int]:
        return {e.id: e.index for e in self.entitlements}

    def redeemed_twice(self, e: Entitlement) -> bool:
        """This family redeems at every counter (same entitlement twice, BRIEF §5)."""
        return e.index == 0 or _h("double", self.tag, e.index) < 0.02

    def redeems_at(self, counter: int, e: Entitlement) -> bool:
        """The family redeems ``e`` at ``counter``: its home counter, or every one."""
        home = int(_h("family", self.tag, e.family) * COUNTERS)
        return home == counter or self.redeemed_twice(e)


def counter_of(device_id: str) -> int:
    """The counter a device stands for: its trailing number (``kasir-1``, ``dev2``) or a hash.

    People and families have a home counter, so devices of one coop mostly serve different
    people, as in a real office; devices numbered 1 to 4 never share a counter.
    """
    digits = re.search(r"(\d+)$", device_id)
    return int(digits.group(1)) % COUNTERS if digits else int(_h("counter", device_id) * COUNTERS)


# --- reference events "from the central" ------------------------------------------------


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


def reference_events(pool: Pool) -> list[Envelope]:
    """The seed's reference data: founders, prices, quotas, the fund, families, cards, aid."""
    founding = _Chain(pool, FOUNDER_DEVICE)
    for f in range(FOUNDERS):
        p = pool.founder(f)
        fields = {k: v for k, v in vars_of(p).items() if v is not None}
        founding.add("MemberRegistered", pool.founder_id(f), **fields)
        founding.add("MembershipApproved", pool.founder_id(f), approved_on="2025-12-01")
    c = _Chain(pool, CENTRAL_DEVICE)
    c.add("StimulusFundAllocated", pool.fund_id, amount=250_000_000, program_year=2026,
          source="APBD Provinsi (simulasi)")  # fmt: skip
    for n, (amount, on) in enumerate(
        ((150_000_000, START.isoformat()), (100_000_000, "2026-07-01"))
    ):
        c.add("StimulusTrancheDisbursed", pool.fund_id, amount=amount, tranche_no=n + 1,
              disbursed_on=on)  # fmt: skip
    for sku, price in pool.prices.items():
        c.add("PriceSet", sku, sku=sku, unit_price=price, effective_from="2026-01-01")
    for cycle in CYCLES:
        c.add("QuotaAllocated", "LPG-3KG", program="LPG_3KG", sku="LPG-3KG", qty=300, period=cycle)
    for fam in range(FAMILIES):
        head, ben = pool.person(fam * 3), pool.beneficiary_id(fam)
        c.add("BeneficiaryEnrolled", ben, kk_no=head.kk_no, home_coop=pool.coop_id,
              head_name=head.name)  # fmt: skip
        c.add("CardIssued", pool.card_uid(fam), beneficiary_id=ben)
        if pool.card_blocked(fam):
            c.add("CardBlocked", pool.card_uid(fam), reason="kartu hilang (simulasi)")
    worth: Counter[tuple[str, str]] = Counter()
    count: Counter[tuple[str, str]] = Counter()
    for e in pool.entitlements:
        what: dict[str, Any] = (
            {"value": e.value} if e.value else {"items": [{"sku": "BERAS-SPHP-5KG", "qty": 2}]}
        )
        c.add("EntitlementGranted", e.id, beneficiary_id=pool.beneficiary_id(e.family),
              card_uid=e.card_uid, program=e.program, cycle=e.cycle, **what)  # fmt: skip
        worth[(e.program, e.cycle)] += e.worth
        count[(e.program, e.cycle)] += 1
    for (program, cycle), n in sorted(count.items()):
        cap = worth[(program, cycle)]
        c.add("RedemptionAllowanceAllocated", pool.allowance_id(program, cycle), scope="COOP",
              program=program, cycle=cycle, max_count=n, max_value=cap)  # fmt: skip
    return founding.envelopes + c.envelopes


def vars_of(p: Person) -> dict[str, Any]:
    return {k: getattr(p, k) for k in Person.__slots__}


def install_reference(agent: EdgeAgent, pool: Pool) -> int:
    """Receive the seed's reference events once; returns how many were new."""
    if agent.view(entitlement_key(pool.entitlements[-1].id)) is not None:
        return 0  # an earlier run installed them (receiving is all or nothing)
    envs = reference_events(pool)
    # The downlink keeps one chain per issuer: another seed's sim-central chain would hide ours.
    ours = next(e for e in envs if e.device_id == CENTRAL_DEVICE)
    held = agent.store.downlink.select_events(CENTRAL_DEVICE, limit=1)
    if held and Envelope.decode(held[0].state).event_id != ours.event_id:
        raise UsageError(
            f"this device already holds the simulated reference data of another seed; "
            f"simulate it with the seed it was simulated with before, or use a fresh device "
            f"(seed {pool.seed} would need its own {CENTRAL_DEVICE} chain)"
        )
    return len(agent.receive_central(envs))


# --- recording in batches ----------------------------------------------------------------


class SimulationError(KopsyncError):
    """The generator produced a command the local rules refuse (a generator bug)."""


class _Pending:
    """A queued command; ``envelope`` once its batch is recorded."""

    __slots__ = ("draft", "envelope")

    def __init__(self, draft: Draft, envelope: Envelope | None = None) -> None:
        self.draft = draft
        self.envelope = envelope


class _Batch:
    """A teller recorder that records the commands it is given ``size`` at a time."""

    def __init__(self, agent: EdgeAgent, size: int) -> None:
        self.agent = agent
        self.size = size
        self.queue: list[_Pending] = []
        self.recorded: list[Envelope] = []

    def record(self, event_type: str, payload: dict[str, Any], aggregate_id: str) -> _Pending:
        pending = _Pending(Draft(event_type, aggregate_id, payload))
        self.queue.append(pending)
        return pending

    def flush(self) -> None:
        if not self.queue:
            return
        try:
            envs = self.agent.record_many([p.draft for p in self.queue])
        except KopsyncError as exc:
            kinds = dict(Counter(p.draft.type for p in self.queue))
            raise SimulationError(f"simulated command refused ({exc}); batch: {kinds}") from exc
        for p, env in zip(self.queue, envs, strict=True):
            p.envelope = env
        self.recorded.extend(envs)
        self.queue.clear()

    def event_id(self, pending: _Pending) -> str:
        """The event id of a command, recording its batch now if need be.

        Recording earlier changes only when a transaction commits, never what is
        recorded, so the run stays the same whatever the batch size.
        """
        if pending.envelope is None:
            self.flush()
        assert pending.envelope is not None
        return pending.envelope.event_id


@dataclass
class SimResult:
    recorded: int
    by_type: dict[str, int]
    reference_events: int
    first_seq: int
    last_seq: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.recorded / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "by_type": dict(sorted(self.by_type.items())),
            "reference_events": self.reference_events,
            "last_seq": self.last_seq,
        }


def simulate(agent: EdgeAgent, count: int, *, seed: int = 1, batch: int = 50) -> SimResult:
    """Record exactly ``count`` valid events on ``agent``'s device (see the module doc)."""
    started = time.perf_counter()
    pool = Pool(agent.coop_id, seed)
    installed = install_reference(agent, pool)
    first = agent.head().seq + 1
    out = _Batch(agent, batch)
    _Device(agent, pool, out).run(count)
    by_type = dict(Counter(e.type for e in out.recorded))
    seconds = time.perf_counter() - started
    return SimResult(len(out.recorded), by_type, installed, first, agent.head().seq, seconds)


# --- the generator ----------------------------------------------------------------------


@dataclass
class _Loan:
    member: str
    state: str  # APPLIED, APPROVED, DISBURSED or PAID
    requested: int
    tenor: int
    installment: int = 0
    total_due: int = 0


Lines = list[tuple[str, int]]


@dataclass
class _State:
    """What the generator knows beyond the views; rebuilt from the log on a later run."""

    registered: int = -1  # the highest pool index registered here
    pending: list[str] = field(default_factory=list)  # registered, not approved yet
    members: list[str] = field(default_factory=list)  # approved, not resigned
    to_open: list[tuple[str, str]] = field(default_factory=list)  # (member, product)
    pokok_unpaid: list[str] = field(default_factory=list)
    wajib: dict[str, str] = field(default_factory=dict)  # account -> next period due
    sukarela: list[str] = field(default_factory=list)
    savings_tx: list[tuple[str, str, int, _Pending]] = field(default_factory=list)
    loans: dict[str, _Loan] = field(default_factory=dict)
    borrowers: set[str] = field(default_factory=set)
    repayments: list[tuple[str, int, _Pending]] = field(default_factory=list)
    sales: list[tuple[str, str, Lines]] = field(default_factory=list)  # (sale, location, lines)
    redemptions: list[tuple[str, _Pending]] = field(default_factory=list)
    next_entitlement: int = 0
    transfers: dict[str, Lines] = field(default_factory=dict)  # gudang -> main, in transit
    discrepancies: list[tuple[str, str, int, int]] = field(default_factory=list)
    founder_edited: bool = False
    overridden: bool = False


class _Device:
    """Chooses and queues one valid command at a time for one device."""

    def __init__(self, agent: EdgeAgent, pool: Pool, out: _Batch) -> None:
        self.agent = agent
        self.pool = pool
        self.out = out
        self.dev = agent.device_id
        self.counter = counter_of(self.dev)
        self.seq = agent.head().seq  # the seq of the last event recorded or queued
        self.rng = _rng("device", pool.coop_id, self.dev, pool.seed, self.seq)
        self.s = _State()
        self.shadow: dict[str, dict[str, Any] | None] = {}
        for entry in agent.log():
            env = entry.envelope
            pending = _Pending(Draft(env.type, env.aggregate_id, entry.payload), env)
            self.observe(env.type, env.aggregate_id, entry.payload, pending)
        weighted: list[tuple[Callable[[], bool], int]] = [
            (self.register, 30), (self.approve, 40), (self.open_account, 100),
            (self.pay_pokok, 40), (self.edit_profile, 15), (self.resign, 2),
            (self.pay_wajib, 90), (self.deposit, 55), (self.withdraw, 30),
            (self.reverse_savings, 4), (self.apply_loan, 12), (self.approve_loan, 12),
            (self.disburse_loan, 12), (self.repay_loan, 60), (self.reverse_repayment, 2),
            (self.sell, 230), (self.void_sale, 6), (self.set_price, 5),
            (self.receive_stock, 30), (self.transfer, 18), (self.receive_transfer, 18),
            (self.adjust, 6), (self.count, 10), (self.redeem, 70), (self.void_redemption, 3),
            (self.utilize, 8), (self.repay_fund, 12), (self.ship_out, 5),
            (self.receive_delivery, 8), (self.discrepancy, 10),
        ]  # fmt: skip
        self.actions = [a for a, _ in weighted]
        self.weights = [w for _, w in weighted]

    def run(self, count: int) -> None:
        done = 0
        while done < count:
            if self.rng.choices(self.actions, self.weights)[0]():
                done += 1
                if len(self.out.queue) >= self.out.size:
                    self.out.flush()
        self.out.flush()

    def rec(
        self,
        command: Callable[Concatenate[_Batch, P], _Pending],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> bool:
        """Queue one teller command and note what it changes; every action records one."""
        pending = command(self.out, *args, **kwargs)
        d = pending.draft
        self.observe(d.type, d.aggregate_id, d.payload, pending)
        return True

    def new(self, prefix: str) -> str:
        """An id minted here: prefix, device id and the seq the event will get."""
        return f"{prefix}-{self.dev}-{self.seq + 1}"

    @property
    def today(self) -> str:
        return _day(self.seq + 1).isoformat()

    # --- the shadow of the views the rules read -------------------------------------------
    def view(self, key: str) -> dict[str, Any] | None:
        """The view at ``key`` as it will be once the queued commands are recorded.

        Read from the store on first use; from then on every queued command that changes
        it updates the shadow first, so the shadow never lags behind the queue.
        """
        if key not in self.shadow:
            self.shadow[key] = self.agent.view(key)
        return self.shadow[key]

    def stock(self, location: str, sku: str) -> int:
        v = self.view(stock_key(sku, location))
        return 0 if v is None else int(v["on_hand"])

    def move(self, location: str, sku: str, delta: int) -> None:
        self.shadow[stock_key(sku, location)] = {"on_hand": self.stock(location, sku) + delta}

    def balance(self, account: str) -> int:
        v = self.view(account_key(account))
        return 0 if v is None else int(v["balance"])

    def add_balance(self, account: str, delta: int) -> None:
        self.shadow[account_key(account)] = {"balance": self.balance(account) + delta}

    def price(self, sku: str) -> int:
        v = self.view(price_key(sku))
        return self.pool.prices[sku] if v is None else int(v["unit_price"])

    def loan(self, lid: str) -> dict[str, Any]:
        fresh = {"principal": 0, "disbursed": 0, "repaid": 0}
        v = self.view(loan_key(lid))
        self.shadow[loan_key(lid)] = shadow = {**fresh, **v} if v else fresh
        return shadow

    def fund(self) -> dict[str, Any]:
        v = self.view(fund_key(self.pool.fund_id))
        zero = {"allocated": 0, "disbursed": 0, "utilized": 0, "repaid": 0}
        self.shadow[fund_key(self.pool.fund_id)] = shadow = {**zero, **v} if v else zero
        return shadow

    # --- what the log says: folded from earlier runs' events and from each new command -----
    def observe(self, t: str, agg: str, p: dict[str, Any], pending: _Pending) -> None:
        s = self.s
        self.seq = pending.envelope.seq if pending.envelope else self.seq + 1
        if t == "MemberRegistered":
            prefix, _, index = agg.rpartition("-")
            if prefix == f"M-{self.dev}" and index.isdigit():
                s.registered = max(s.registered, int(index))
            s.pending.append(agg)
        elif t == "MembershipApproved" and agg in s.pending:
            s.pending.remove(agg)
            s.members.append(agg)
            s.to_open += [(agg, product) for product in ("POKOK", "WAJIB", "SUKARELA")]
        elif t == "MemberResigned" and agg in s.members:
            s.members.remove(agg)
        elif t == "MemberProfileFieldChanged":
            s.founder_edited |= agg == self.pool.founder_id(0)
        elif t == "SavingsAccountOpened":
            s.to_open = [x for x in s.to_open if x != (p["member_id"], p["product"])]
            if p["product"] == "POKOK":
                s.pokok_unpaid.append(agg)
            elif p["product"] == "WAJIB":
                s.wajib[agg] = p["opened_on"][:7]
            else:
                s.sukarela.append(agg)
        elif t in ("SavingsDeposited", "SavingsWithdrawn"):
            if agg in s.pokok_unpaid:
                s.pokok_unpaid.remove(agg)
            if "period" in p:
                s.wajib[agg] = _next_period(p["period"])
            kind = "DEPOSIT" if t == "SavingsDeposited" else "WITHDRAWAL"
            s.savings_tx.append((agg, kind, p["amount"], pending))
        elif t == "SavingsTransactionReversed":
            s.savings_tx = [x for x in s.savings_tx if _eid(x[3]) != p["reversed_event_id"]]
        elif t == "LoanApplied":
            s.loans[agg] = _Loan(
                p["member_id"], "APPLIED", p["amount_requested"], p["tenor_months"]
            )
            s.borrowers.add(p["member_id"])
        elif t == "LoanApproved" and agg in s.loans:
            loan = s.loans[agg]
            interest = p["principal"] * p["rate_bp"] * p["tenor_months"] // 120_000
            loan.state, loan.tenor = "APPROVED", p["tenor_months"]
            loan.total_due = p["principal"] + interest
            loan.installment = _round(loan.total_due / p["tenor_months"], 100)
        elif t == "LoanDisbursed" and agg in s.loans:
            s.loans[agg].state = "DISBURSED"
        elif t == "LoanRepaymentReceived":
            s.repayments.append((agg, p["amount"], pending))
        elif t == "LoanRepaymentReversed":
            s.repayments = [x for x in s.repayments if _eid(x[2]) != p["reversed_event_id"]]
        elif t == "SaleRecorded":
            lines = [(x["sku"], x["qty"]) for x in p["lines"]]
            s.sales.append((agg, p.get("location") or MAIN, lines))
            s.overridden |= "stock_override_reason" in p
        elif t == "SaleVoided":
            s.sales = [x for x in s.sales if x[0] != agg]
        elif t == "AidRedeemed":
            s.redemptions.append((agg, pending))
            position = self.pool.entitlement_index.get(agg, -1)
            s.next_entitlement = max(s.next_entitlement, position + 1)
        elif t == "AidRedemptionVoided":
            s.redemptions = [x for x in s.redemptions if x[0] != agg]
        elif t == "ShipmentDispatched" and p["destination"] == self.pool.coop_id:
            s.transfers[agg] = [(x["sku"], x["qty"]) for x in p["lines"]]
        elif t == "ShipmentReceived":
            s.transfers.pop(agg, None)
        del s.savings_tx[:-40], s.repayments[:-40], s.sales[:-40], s.redemptions[:-40]

    # --- membership ---------------------------------------------------------------------
    def register(self) -> bool:
        i = self.s.registered + 1
        while not self.pool.registers_at(self.counter, i):
            i += 1
        p = self.pool.person(i)
        twice = self.pool.walks_in_twice(i)
        name = _misspelt(p.name) if twice and _h("spell", self.dev, i) < 0.25 else p.name
        return self.rec(
            teller.register_member, nik=p.nik, kk_no=p.kk_no, name=name,
            birth_date=p.birth_date, desa_code=p.desa_code, phone=p.phone,
            member_id=f"M-{self.dev}-{i}",
        )  # fmt: skip

    def approve(self) -> bool:
        if not self.s.pending:
            return False
        by = "Ketua Pengurus"
        return self.rec(
            teller.approve_member, self.s.pending[0], approved_on=self.today, approved_by=by
        )

    def edit_profile(self) -> bool:
        r = self.rng
        founders = [self.pool.founder_id(f) for f in range(FOUNDERS)]
        if not self.s.founder_edited:  # every device edits this phone first: BRIEF §5
            member, name = founders[0], "phone"
        else:
            member = r.choice(
                founders if r.random() < 0.4 or not self.s.members else self.s.members
            )
            name = r.choices(("phone", "address", "name", "desa_code"), (60, 25, 10, 5))[0]
        values = {
            "phone": lambda: _phone(r),
            "address": lambda: f"Jl. {r.choice(STREETS)} No. {r.randrange(1, 120)}",
            "name": lambda: f"{r.choice(WOMEN + MEN)} {r.choice(SURNAMES)}",
            "desa_code": lambda: r.choice(self.pool.desas),
        }
        return self.rec(teller.change_member_field, member, name, values[name]())

    def resign(self) -> bool:
        leaving = [m for m in self.s.members if m not in self.s.borrowers]
        if len(self.s.members) < 20 or not leaving:
            return False
        member, why = self.rng.choice(leaving), "pindah domisili"
        return self.rec(teller.resign_member, member, resigned_on=self.today, reason=why)

    # --- savings -------------------------------------------------------------------------
    def open_account(self) -> bool:
        if not self.s.to_open:
            return False
        member, product = self.s.to_open[0]
        return self.rec(
            teller.open_savings, member_id=member, product=product, opened_on=self.today,
            account_id=self.new("S"),
        )  # fmt: skip

    def pay_pokok(self) -> bool:
        if not self.s.pokok_unpaid:
            return False
        account = self.s.pokok_unpaid[0]
        self.add_balance(account, self.pool.pokok)
        return self.rec(teller.deposit, account, self.pool.pokok, receipt_no=self.new("KW"))

    def pay_wajib(self) -> bool:
        month = self.today[:7]
        due = [a for a, period in self.s.wajib.items() if period <= month]
        if not due:
            return False
        account = self.rng.choice(due)
        self.add_balance(account, self.pool.wajib)
        return self.rec(
            teller.deposit, account, self.pool.wajib, receipt_no=self.new("KW"),
            period=self.s.wajib[account],
        )  # fmt: skip

    def deposit(self) -> bool:
        if not self.s.sukarela:
            return False
        account = self.rng.choice(self.s.sukarela)
        amount = _round(self.rng.lognormvariate(11.5, 0.9), 5_000)  # median about Rp100.000
        self.add_balance(account, amount)
        return self.rec(teller.deposit, account, amount, receipt_no=self.new("KW"))

    def withdraw(self) -> bool:
        funded = [a for a in self.s.sukarela[-60:] if self.balance(a) >= 10_000]
        if not funded:
            return False
        account = self.rng.choice(funded)
        have = self.balance(account)
        amount = min(have, _round(have * self.rng.uniform(0.1, 0.9), 5_000))
        self.add_balance(account, -amount)
        return self.rec(teller.withdraw, account, amount, receipt_no=self.new("KW"))

    def reverse_savings(self) -> bool:
        options = [
            x for x in self.s.savings_tx if x[1] == "WITHDRAWAL" or self.balance(x[0]) >= x[2]
        ]
        if not options:
            return False
        account, kind, amount, pending = self.rng.choice(options)
        self.add_balance(account, -amount if kind == "DEPOSIT" else amount)
        return self.rec(
            teller.reverse_savings, account, reversed_event_id=self.out.event_id(pending),
            kind=kind, amount=amount, reason="salah input nominal oleh petugas",
        )  # fmt: skip

    # --- loans ---------------------------------------------------------------------------
    def _loans(self, state: str) -> list[str]:
        return [lid for lid, loan in self.s.loans.items() if loan.state == state]

    def apply_loan(self) -> bool:
        free = [m for m in self.s.members if m not in self.s.borrowers]
        if not free:
            return False
        r, lid = self.rng, self.new("L")
        self.loan(lid)
        return self.rec(
            teller.apply_loan, member_id=r.choice(free), loan_id=lid,
            amount_requested=r.randrange(10, 101) * 100_000, purpose=r.choice(LOAN_PURPOSES),
            tenor_months=r.choice((6, 10, 12, 18, 24)),
        )  # fmt: skip

    def approve_loan(self) -> bool:
        applied = self._loans("APPLIED")
        if not applied:
            return False
        r, lid = self.rng, applied[0]
        requested = self.s.loans[lid].requested
        principal = requested if r.random() < 0.7 else _round(requested * 0.8, 100_000)
        self.loan(lid)["principal"] = principal
        return self.rec(
            teller.approve_loan, lid, principal=principal, rate_bp=r.choice((1200, 1500, 1800)),
            method="flat" if r.random() < 0.7 else "declining",
            tenor_months=self.s.loans[lid].tenor, first_due=_add_month(_day(self.seq + 1)),
        )  # fmt: skip

    def disburse_loan(self) -> bool:
        approved = self._loans("APPROVED")
        if not approved:
            return False
        v = self.loan(approved[0])
        left = int(v["principal"]) - int(v["disbursed"])
        if left <= 0:
            self.s.loans[approved[0]].state = "DISBURSED"
            return False
        v["disbursed"] += left
        return self.rec(teller.disburse_loan, approved[0], left, disbursed_on=self.today)

    def repay_loan(self) -> bool:
        running = self._loans("DISBURSED")
        if not running:
            return False
        lid = self.rng.choice(running[-80:])
        loan, v = self.s.loans[lid], self.loan(lid)
        owed = loan.total_due - int(v["repaid"])
        if owed <= 0:
            loan.state = "PAID"
            return False
        amount = min(owed, loan.installment)
        v["repaid"] += amount
        return self.rec(
            teller.repay_loan, lid, amount, receipt_no=self.new("KW"), paid_on=self.today
        )

    def reverse_repayment(self) -> bool:
        if not self.s.repayments:
            return False
        lid, amount, pending = self.s.repayments[-1]
        self.loan(lid)["repaid"] -= amount
        if lid in self.s.loans and self.s.loans[lid].state == "PAID":
            self.s.loans[lid].state = "DISBURSED"
        return self.rec(
            teller.reverse_repayment, lid, reversed_event_id=self.out.event_id(pending),
            amount=amount, reason="setoran tercatat dua kali",
        )  # fmt: skip

    # --- shop and stock --------------------------------------------------------------------
    def sell(self) -> bool:
        r = self.rng
        lines: list[teller.Line] = []
        override = None
        for sku in r.sample(SKUS, r.choice((1, 1, 2, 2, 3, 4))):
            qty = 1 if sku in ("LPG-3KG", "PUPUK-UREA-50KG") else r.randint(1, 3)
            have = self.stock(MAIN, sku)
            if have < qty:
                # The first shortage of a run, and a few later ones, are sold anyway: the
                # goods are on the shelf but their receipt is not recorded yet (BRIEF §5).
                if not self.s.overridden or r.random() < 0.04:
                    override = "barang sudah di rak, penerimaan belum dicatat"
                elif have <= 0:
                    continue
                else:
                    qty = have
            lines.append((sku, qty, self.price(sku)))
        if not lines:
            return False
        total = teller.sale_total(lines)
        payments: list[teller.Payment] = [("cash", total)]
        member = card = None
        roll, fam = r.random(), r.randrange(FAMILIES)
        if roll < 0.15 and not (self.view(card_key(self.pool.card_uid(fam))) or {}).get("blocked"):
            card = self.pool.card_uid(fam)
            khbs = min(total, _round(total * r.uniform(0.5, 1), 500))
            payments = [("khbs", khbs)] + ([("cash", total - khbs)] if total > khbs else [])
        elif 0.15 <= roll < 0.25 and self.s.members:
            member = r.choice(self.s.members)
            payments = [("member_credit", total)]
        for sku, qty, _ in lines:
            self.move(MAIN, sku, -qty)
        return self.rec(
            teller.record_sale, lines, payments, member_id=member, card_uid=card,
            override_stock=override, sale_id=self.new("SL"),
        )  # fmt: skip

    def void_sale(self) -> bool:
        if not self.s.sales:
            return False
        sale, location, lines = self.s.sales[-1]
        for sku, qty in lines:
            self.move(location, sku, qty)
        return self.rec(teller.void_sale, sale, reason="pembeli batal membeli")

    def set_price(self) -> bool:
        sku = self.rng.choice(SKUS[:-2])  # LPG and fertiliser have a set retail ceiling (HET)
        price = _round(self.price(sku) * self.rng.uniform(0.97, 1.06), 100)
        self.shadow[price_key(sku)] = {"unit_price": price}
        return self.rec(teller.set_price, sku, price, effective_from=self.today)

    def receive_stock(self) -> bool:
        sku, _, (lo, hi), supplier = self.rng.choice(GOODS)
        where, qty = GUDANG if self.rng.random() < 0.5 else MAIN, self.rng.randint(lo, hi)
        self.move(where, sku, qty)
        cost = _round(self.price(sku) * 0.88, 100)
        return self.rec(
            teller.receive_stock, sku, qty, supplier=supplier, doc_no=self.new("SJ"),
            location=where, unit_cost=cost,
        )  # fmt: skip

    def _from_gudang(self, most: int) -> list[teller.Item]:
        stocked = [sku for sku in SKUS if self.stock(GUDANG, sku) > 0]
        picked = self.rng.sample(stocked, min(len(stocked), self.rng.randint(1, 3)))
        items = [(sku, min(self.stock(GUDANG, sku), self.rng.randint(5, most))) for sku in picked]
        for sku, qty in items:
            self.move(GUDANG, sku, -qty)
        return items

    def transfer(self) -> bool:
        items = self._from_gudang(60)
        if not items:
            return False
        return self.rec(
            teller.dispatch_shipment, origin=GUDANG, destination=self.pool.coop_id, items=items,
            dispatched_on=self.today, shipment_id=self.new("TR"),
        )  # fmt: skip

    def receive_transfer(self) -> bool:
        if not self.s.transfers:
            return False
        sid, items = next(iter(self.s.transfers.items()))
        got = list(items)
        if self.rng.random() < 0.2 and got[0][1] > 1:
            sku, qty = got[0]
            got[0] = (sku, qty - 1)
            self.s.discrepancies.append((sid, sku, qty, qty - 1))
        for sku, qty in got:
            self.move(MAIN, sku, qty)
        return self.rec(
            teller.receive_shipment, sid, items=got, location=MAIN, received_on=self.today
        )

    def ship_out(self) -> bool:
        items = self._from_gudang(20)
        if not items:
            return False
        to = self.rng.choice(self.pool.neighbours)
        return self.rec(
            teller.dispatch_shipment, origin=GUDANG, destination=to, items=items,
            dispatched_on=self.today, shipment_id=self.new("SH"),
        )  # fmt: skip

    def receive_delivery(self) -> bool:
        sku = self.rng.choice(("LPG-3KG", "PUPUK-UREA-50KG", "BERAS-SPHP-5KG"))
        sent = self.rng.randint(40, 120)
        got = sent - (self.rng.randint(1, 3) if self.rng.random() < 0.25 else 0)
        sid = self.new("DO")
        if got != sent:
            self.s.discrepancies.append((sid, sku, sent, got))
        self.move(GUDANG, sku, got)
        return self.rec(
            teller.receive_shipment, sid, items=[(sku, got)], location=GUDANG,
            received_on=self.today,
        )  # fmt: skip

    def discrepancy(self) -> bool:
        if not self.s.discrepancies:
            return False
        sid, sku, sent, got = self.s.discrepancies.pop(0)
        return self.rec(
            teller.record_discrepancy, sid, sku=sku, expected_qty=sent, received_qty=got,
            reason="kemasan rusak / kurang saat bongkar muat",
        )  # fmt: skip

    def adjust(self) -> bool:
        r = self.rng
        where, sku = MAIN if r.random() < 0.6 else GUDANG, r.choice(SKUS)
        delta = -r.randint(1, 3) if r.random() < 0.85 else r.randint(1, 2)
        self.move(where, sku, delta)
        why = "rusak/bocor" if delta < 0 else "ditemukan saat merapikan gudang"
        return self.rec(teller.adjust_stock, sku, delta, reason=why, location=where)

    def count(self) -> bool:
        sku = self.rng.choice(SKUS)
        have = self.stock(MAIN, sku)
        counted = max(0, have + self.rng.randint(-2, 1)) if have > 0 else self.rng.randint(0, 5)
        self.shadow[stock_key(sku, MAIN)] = {"on_hand": counted}
        return self.rec(teller.count_stock, sku, counted, location=MAIN)

    # --- aid -------------------------------------------------------------------------------
    def redeem(self) -> bool:
        ents, month, i = self.pool.entitlements, self.today[:7], self.s.next_entitlement
        while i < len(ents) and ents[i].cycle <= month:
            e, i = ents[i], i + 1
            if not self.pool.redeems_at(self.counter, e):
                continue
            v = self.view(entitlement_key(e.id))
            card = self.view(card_key(e.card_uid)) or {}
            if v is None or v["redeemed_by"] is not None or card.get("blocked"):
                continue
            self.s.next_entitlement = i
            self.shadow[entitlement_key(e.id)] = {**v, "redeemed_by": "queued"}
            how = self.rng.choices(VERIFICATIONS, (85, 10, 5))[0]
            return self.rec(
                teller.redeem_aid, e.id, card_uid=e.card_uid, value=e.worth, verification=how,
                allowance_id=self.pool.allowance_id(e.program, e.cycle),
            )  # fmt: skip
        self.s.next_entitlement = i
        return False

    def void_redemption(self) -> bool:
        if not self.s.redemptions:
            return False
        ent, pending = self.s.redemptions[-1]
        self.shadow[entitlement_key(ent)] = {
            **(self.view(entitlement_key(ent)) or {}),
            "redeemed_by": None,
        }
        return self.rec(
            teller.void_redemption, ent, redemption_event_id=self.out.event_id(pending),
            reason="kartu tertempel dua kali, keluarga minta dibatalkan",
        )  # fmt: skip

    # --- stimulus fund -----------------------------------------------------------------------
    def utilize(self) -> bool:
        f = self.fund()
        amount = _round(self.rng.uniform(1, 15) * 1_000_000, 50_000)
        if f["disbursed"] - f["utilized"] + f["repaid"] < amount:
            return False
        f["utilized"] += amount
        purpose = self.rng.choices(FUND_PURPOSES, (30, 40, 10, 15, 5))[0]
        return self.rec(
            teller.utilize_fund, self.pool.fund_id, amount, purpose=purpose,
            doc_no=self.new("BKK"), used_on=self.today,
        )  # fmt: skip

    def repay_fund(self) -> bool:
        f = self.fund()
        amount = _round(self.rng.uniform(0.2, 2) * 1_000_000, 50_000)
        if f["repaid"] + amount > f["utilized"] * 0.8 or not self.s.members:
            return False
        f["repaid"] += amount
        return self.rec(
            teller.repay_fund, self.pool.fund_id, amount, receipt_no=self.new("KW"),
            paid_on=self.today, member_id=self.rng.choice(self.s.members),
        )  # fmt: skip


def _eid(pending: _Pending) -> str | None:
    return None if pending.envelope is None else pending.envelope.event_id
