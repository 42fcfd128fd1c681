"""Local time by province code: WIB, WITA and WIT, and the business day of a wall time."""

from __future__ import annotations

import datetime as dt

import pytest

from sync_core import localtime

# 2026-03-01 16:30 UTC: 23:30 WIB, 00:30 WITA and 01:30 WIT the next day
WALL = int(dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("coop_id", "zone", "day"),
    [
        ("6202081007", "WIB", "2026-03-01"),  # Kotawaringin Timur, Central Kalimantan
        ("6271031001", "WIB", "2026-03-01"),  # Palangka Raya
        ("1171010001", "WIB", "2026-03-01"),  # Banda Aceh
        ("3171010001", "WIB", "2026-03-01"),  # Jakarta
        ("6401050012", "WITA", "2026-03-02"),  # Paser, East Kalimantan
        ("6472021005-KMP", "WITA", "2026-03-02"),  # Samarinda
        ("5171010001", "WITA", "2026-03-02"),  # Denpasar, Bali
        ("7371010001", "WITA", "2026-03-02"),  # Makassar
        ("8171010001", "WIT", "2026-03-02"),  # Ambon
        ("9471010001", "WIT", "2026-03-02"),  # Jayapura
    ],
)
def test_the_zone_and_day_follow_the_province_code(coop_id: str, zone: str, day: str) -> None:
    """Half past eleven at night in Central Kalimantan is the next day in East Kalimantan."""
    assert localtime.zone_of(coop_id) == zone
    assert localtime.local_day(WALL, coop_id) == day
    assert localtime.local_time(WALL, coop_id).tzname() == zone


def test_every_listed_province_has_one_zone_and_unknown_ones_fall_back_to_wib() -> None:
    """The three lists do not overlap; a code outside them is dated in WIB, never refused."""
    assert len(localtime.ZONE_OF_PROVINCE) == (11 + 6 + 2) + (3 + 3 + 6) + (2 + 6)
    assert localtime.zone_of("99") == "WIB"
    assert localtime.today("6401050012", WALL) == "2026-03-02"
    assert localtime.year_of("2026-12-31") == 2026


@pytest.mark.parametrize("bad", ["2026-02-30", "31-03-2026", "2026-3-1", "today"])
def test_a_bad_business_date_is_refused_with_what_to_type(bad: str) -> None:
    """A date that is not YYYY-MM-DD is a usage error naming the expected form."""
    from sync_core.errors import UsageError

    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        localtime.check_date(bad, "--as-of")
    assert localtime.check_date("2026-03-31") == "2026-03-31"
