"""Region codes (Ministry of Home Affairs, written without dots) and their local time.

A code of 2 digits is a province, 4 a regency or city, 6 a district, 10 a village; a
cooperative's id begins with its village code (``6202081007`` or ``6202081007-KMP``),
so a region's cooperatives are the ids that begin with its code. Local time follows
the province (:mod:`sync_core.localtime`: WIB, WITA, WIT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync_core import localtime
from sync_core.errors import InvalidId, UsageError
from sync_core.ids import check_coop_id

LEVELS = {2: "province", 4: "regency", 6: "district", 10: "village"}
_CODE = re.compile(r"^[0-9]+\Z")


# Names shown beside codes; codes without a name here are shown as codes.
NAMES: dict[str, str] = {
    "62": "Kalimantan Tengah",
    "6201": "Kotawaringin Barat",
    "6202": "Kotawaringin Timur",
    "6203": "Kapuas",
    "6204": "Barito Selatan",
    "6205": "Barito Utara",
    "6206": "Sukamara",
    "6207": "Lamandau",
    "6208": "Seruyan",
    "6209": "Katingan",
    "6210": "Pulang Pisau",
    "6211": "Gunung Mas",
    "6212": "Barito Timur",
    "6213": "Murung Raya",
    "6271": "Palangka Raya",
    "64": "Kalimantan Timur",
    "6401": "Paser",
    "6402": "Kutai Kartanegara",
    "6403": "Berau",
    "6407": "Kutai Barat",
    "6408": "Kutai Timur",
    "6409": "Penajam Paser Utara",
    "6411": "Mahakam Ulu",
    "6471": "Balikpapan",
    "6472": "Samarinda",
    "6474": "Bontang",
    "61": "Kalimantan Barat",
    "63": "Kalimantan Selatan",
    "65": "Kalimantan Utara",
}


@dataclass(frozen=True, slots=True)
class Region:
    """A region by its code: ``level`` province, regency, district or village."""

    code: str
    level: str

    @property
    def name(self) -> str:
        return NAMES.get(self.code, self.code)

    @property
    def zone(self) -> str:
        return localtime.zone_of(self.code)

    @property
    def child_length(self) -> int | None:
        """How many leading digits of a cooperative id name the next level down.

        A province breaks down by regency; a regency or district straight into its
        cooperatives (``None``), which is how the province drills down.
        """
        return 4 if self.level == "province" else None

    def bounds(self) -> tuple[str, str]:
        """Ids ``lo <= coop_id < hi`` are the cooperatives of the region (an index range)."""
        return self.code, self.code[:-1] + chr(ord(self.code[-1]) + 1)

    def contains(self, coop_id: str) -> bool:
        return coop_id.startswith(self.code)


def parse_region(code: str) -> Region:
    """The region of ``code`` (or one cooperative, by its full id); a one-line
    :class:`UsageError` when it is neither."""
    if _CODE.match(code or "") and len(code) in LEVELS:
        return Region(code, LEVELS[len(code)])
    try:
        return Region(check_coop_id(code), "cooperative")
    except InvalidId:
        raise UsageError(
            f"region '{code}' is not a region code: 2 digits (province, e.g. 62), 4 (regency, "
            "6202), 6 (district, 620208) or 10 (village, 6202081007), without dots, "
            "or a cooperative's id"
        ) from None


def local_time(ms: int, code: str) -> str:
    """Epoch milliseconds as ``YYYY-MM-DD HH:MM ZONE`` in the local time of ``code``."""
    return f"{localtime.local_time(ms, code):%Y-%m-%d %H:%M %Z}"


def check_date(value: str) -> str:
    """``value`` if it is a date YYYY-MM-DD, else a one-line :class:`UsageError`."""
    return localtime.check_date(value, "--as-of")
