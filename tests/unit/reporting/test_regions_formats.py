"""Region codes, local zones and how figures are written (pure functions)."""

from __future__ import annotations

import pytest

from central_projector.console.operators import check_password, hash_password
from central_projector.reporting.formats import figure, percent_bp, rupiah
from central_projector.reporting.regions import local_time, parse_region
from sync_core.errors import UsageError
from sync_core.localtime import zone_of


def test_levels_and_bounds_by_code_length() -> None:
    """2, 4, 6 and 10 digits are province, regency, district and village; ids are coops."""
    assert [parse_region(c).level for c in ("62", "6202", "620208", "6202081007")] == [
        "province", "regency", "district", "village"]  # fmt: skip
    assert parse_region("6401050012-KMP").level == "cooperative"
    assert parse_region("62").bounds() == ("62", "63")
    assert parse_region("6209").bounds() == ("6209", "620:")
    assert parse_region("62").name == "Kalimantan Tengah"
    for bad in ("6", "623", "62.02", "", "abc"):
        with pytest.raises(UsageError):
            parse_region(bad)


def test_zone_follows_the_province() -> None:
    """WIB for Kalimantan Tengah, WITA for Kalimantan Timur and Bali, WIT for Papua."""
    assert [zone_of(c) for c in ("62", "6202081007", "64", "51", "91", "31")] == [
        "WIB", "WIB", "WITA", "WITA", "WIT", "WIB"]  # fmt: skip
    assert local_time(1_767_225_600_000, "6472") == "2026-01-01 08:00 WITA"
    assert local_time(1_767_225_600_000, "62") == "2026-01-01 07:00 WIB"


def test_rupiah_and_figures() -> None:
    """Rupiah as Rp1.234.567, PAR30 with a decimal comma, counts with dots."""
    assert rupiah(1_234_567) == "Rp1.234.567"
    assert rupiah(-5_000) == "-Rp5.000"
    assert rupiah(0) == "Rp0"
    assert percent_bp(1234) == "12,34 %"
    assert figure("loans.arrears_buckets.31-60", 72_500) == "Rp72.500"
    assert figure("members.count", 1571) == "1.571"
    assert figure("aid.by_program.PUPUK.2026-11.value_at_risk", 300_000) == "Rp300.000"


def test_password_hashes_check_and_differ_by_salt() -> None:
    """A password checks against its own hash only, and two hashes of it differ."""
    a, b = hash_password("rahasia-sekali"), hash_password("rahasia-sekali")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert check_password("rahasia-sekali", a) and check_password("rahasia-sekali", b)
    assert not check_password("rahasia-sekalI", a)
    assert not check_password("x", "not-a-hash")
