"""A cooperative's local time: its zone from the province code, and its business days.

Indonesia has three zones, and the first two digits of every region code (and so of
every cooperative id) name the province:

- WIB, UTC+7: Sumatra (11–21), Java (31–36), West and Central Kalimantan (61, 62);
- WITA, UTC+8: Bali and Nusa Tenggara (51–53), South, East and North Kalimantan
  (63–65), Sulawesi (71–76);
- WIT, UTC+9: Maluku (81, 82) and Papua (91–96).

A "day" of a cooperative is its local day. None of the zones has daylight saving, so a
fixed offset is exact. A province code outside the lists (none is issued today) is taken
as WIB, the zone of the capital, rather than refused: a fact is dated, never dropped.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sync_core.errors import UsageError

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

ZONES: dict[str, int] = {"WIB": 7, "WITA": 8, "WIT": 9}
"""Zone name -> hours ahead of UTC."""

_PROVINCES: dict[str, tuple[int, ...]] = {
    "WIB": (*range(11, 22), *range(31, 37), 61, 62),
    "WITA": (51, 52, 53, 63, 64, 65, *range(71, 77)),
    "WIT": (81, 82, *range(91, 97)),
}
ZONE_OF_PROVINCE: dict[str, str] = {
    f"{code:02d}": zone for zone, codes in _PROVINCES.items() for code in codes
}
DEFAULT_ZONE = "WIB"


def zone_of(code: str) -> str:
    """The zone (WIB, WITA or WIT) of a region code or of an id that begins with one."""
    return ZONE_OF_PROVINCE.get(code[:2], DEFAULT_ZONE)


@lru_cache(maxsize=4096)
def offset_ms(code: str) -> int:
    """Milliseconds the local time of ``code``'s province is ahead of UTC."""
    return ZONES[zone_of(code)] * HOUR_MS


@lru_cache(maxsize=8192)
def _day_name(day_number: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day_number)).isoformat()


def local_day(wall_ms: int, code: str) -> str:
    """The local calendar day (YYYY-MM-DD) of a wall time (ms since the epoch, UTC)."""
    return _day_name((wall_ms + offset_ms(code[:2])) // DAY_MS)


def local_time(wall_ms: int, code: str) -> dt.datetime:
    """The wall time as an aware local date-time of ``code``'s province (for display)."""
    tz = dt.timezone(dt.timedelta(hours=ZONES[zone_of(code)]), zone_of(code))
    return dt.datetime.fromtimestamp(wall_ms / 1000, tz=tz)


def today(code: str, now_ms: int) -> str:
    """The local date of ``code``'s province at ``now_ms``: a cooperative's business date."""
    return local_day(now_ms, code)


def year_of(day: str) -> int:
    """The calendar (and fiscal) year of a business date YYYY-MM-DD."""
    return int(day[:4])


def check_date(value: str, what: str = "date") -> str:
    """``value`` if it is a business date YYYY-MM-DD, else :class:`UsageError` saying so."""
    try:
        if len(value) == 10:
            dt.date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise UsageError(f"{what} must be a date YYYY-MM-DD, e.g. 2026-03-31; got {value!r}")
