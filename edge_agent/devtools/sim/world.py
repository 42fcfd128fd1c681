"""The simulated world's fixed data and stable randomness: calendar, goods, names.

The helpers are pure functions of their arguments, so a run is reproducible from
(coop_id, device_id, seed) and the device's state alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from edge_agent.app import teller

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
LOAN_PURPOSES = (
    "modal usaha warung",
    "pupuk dan bibit padi",
    "biaya sekolah anak",
    "perbaikan perahu",
    "modal jualan kue",
    "renovasi rumah",
)
FUND_PURPOSES = ("WORKING_CAPITAL", "MEMBER_LOANS", "EQUIPMENT", "STOCK", "OTHER")
VERIFICATIONS = ("CHIP_PIN", "CHIP", "MANUAL")


def coin(*parts: object) -> float:
    """A number in [0, 1) that is a pure function of ``parts`` (a stable coin flip)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64


def seeded(*parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in parts))


def day_of(seq: int) -> dt.date:
    return START + dt.timedelta(days=(seq - 1) // EVENTS_PER_DAY)


def next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year + 1}-01" if month == 12 else f"{year}-{month + 1:02d}"


def add_month(day: dt.date) -> str:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, 28)).isoformat()


def round_down(amount: float, step: int) -> int:
    """``amount`` rounded down to a multiple of ``step``, and at least one ``step``."""
    return max(step, int(amount // step) * step)


def phone_number(r: random.Random) -> str:
    return f"+62{r.choice(PHONE_PREFIXES)}{r.randrange(10**7, 10**8)}"


def misspelt(name: str) -> str:
    """The same person written down differently at another counter."""
    for a, b in SPELLINGS:
        if a in name:
            return name.replace(a, b, 1)
    return name + "h"
