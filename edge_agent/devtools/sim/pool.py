"""The shared pool: people, KHBS cards, entitlements and goods of one (coop, seed).

Devices of a cooperative given the same seed draw from one pool, never from their device
id, which yields the cross-device conflict cases (see :mod:`edge_agent.devtools.sim`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from edge_agent.devtools.sim.world import (
    COUNTERS,
    CYCLES,
    FAMILIES,
    GOODS,
    MEN,
    SURNAMES,
    WOMEN,
    coin,
    phone_number,
    round_down,
    seeded,
)
from sync_core.ids import region_of


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
        rng = seeded("pool", coop_id, seed)
        self.prices = {sku: round_down(p * rng.uniform(0.97, 1.05), 100) for sku, p, _, _ in GOODS}
        self.wajib = rng.choice((10_000, 15_000, 20_000, 25_000))
        self.pokok = rng.choice((50_000, 100_000, 150_000))
        self.fund_id = f"SF-{self.tag}"
        self._people: dict[int, Person] = {}

    def _person(self, key: str, serial: int) -> Person:
        r = seeded("person", self.coop_id, self.seed, key)
        woman = r.random() < 0.5
        first = r.choice(WOMEN if woman else MEN)
        name = f"{first} {r.choice(SURNAMES)}" if r.random() < 0.85 else first
        born = dt.date(1950, 1, 1) + dt.timedelta(days=r.randrange(365 * 55))
        desa = r.choice(self.desas)
        # NIK: district, birth date (day + 40 for women), serial; KK: district, issue, serial.
        nik = f"{desa[:6]}{born.day + 40 * woman:02d}{born:%m%y}{serial:04d}"
        issued = dt.date(2005, 1, 1) + dt.timedelta(days=r.randrange(365 * 19))
        kk = f"{desa[:6]}{issued:%d%m%y}{serial:04d}"
        phone = None if r.random() < 0.15 else phone_number(r)
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
        """This person registers at every counter of the coop (same NIK twice)."""
        return i == 0 or coin("dup", self.tag, i) < 0.03

    def registers_at(self, counter: int, i: int) -> bool:
        """Person ``i`` registers at ``counter`` (about one in ten at every counter too)."""
        return self.walks_in_twice(i) or int(coin("home", self.tag, i) * COUNTERS) == counter

    def card_uid(self, family: int) -> str:
        return hashlib.sha256(f"card|{self.tag}|{family}".encode()).hexdigest()[:14].upper()

    def card_blocked(self, family: int) -> bool:
        return family > 0 and coin("blocked", self.tag, family) < 0.03

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
                beras = coin("program", self.tag, fam) < 0.4
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
        """This family redeems at every counter (same entitlement twice)."""
        return e.index == 0 or coin("double", self.tag, e.index) < 0.02

    def redeems_at(self, counter: int, e: Entitlement) -> bool:
        """The family redeems ``e`` at ``counter``: its home counter, or every one."""
        home = int(coin("family", self.tag, e.family) * COUNTERS)
        return home == counter or self.redeemed_twice(e)


def counter_of(device_id: str) -> int:
    """The counter a device stands for: its trailing number (``kasir-1``, ``dev2``) or a hash.

    People and families have a home counter, so devices of one coop mostly serve different
    people, as in a real office; devices numbered 1 to 4 never share a counter.
    """
    digits = re.search(r"(\d+)$", device_id)
    return int(digits.group(1)) % COUNTERS if digits else int(coin("counter", device_id) * COUNTERS)
