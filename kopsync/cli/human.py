"""Figures and times as the command line writes them for people (``--json`` keeps raw values).

One style everywhere: whole numbers and rupiah with Indonesian thousands separators
(``1.571``, ``Rp1.234.567``, as the console and the teller page write them), a decimal
comma in percentages, plurals that agree (``1 day``, ``2 days``), and times as ISO local
date-times in the cooperative's zone (``2026-12-05 16:12:48 WITA``), never epoch ms.
"""

from __future__ import annotations

from sync_core.localtime import local_time


def count(n: int) -> str:
    """``1.571``."""
    return f"{n:,}".replace(",", ".")


def rupiah(amount: int) -> str:
    """``Rp1.234.567`` (``-Rp5.000`` below zero)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{count(abs(amount))}"


def percent_bp(bp: int) -> str:
    """Basis points as a percentage: ``1234`` -> ``12,34 %``."""
    return f"{bp // 100},{bp % 100:02d} %"


def decimal(x: float, places: int = 1) -> str:
    """``1234.5`` -> ``1.234,5``: a decimal comma, as the thousands have dots."""
    whole, _, frac = f"{abs(x):.{places}f}".partition(".")
    sign = "-" if x < 0 and float(f"{abs(x):.{places}f}") else ""
    return f"{sign}{count(int(whole))}" + (f",{frac}" if frac else "")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1.571 cooperatives`` (``words`` when not just ``word + s``)."""
    return f"{count(n)} {word if n == 1 else (words or word + 's')}"


def when(wall_ms: int | None, coop_id: str) -> str:
    """An epoch-ms time as the cooperative's local ISO date-time with its zone, or ``never``."""
    if wall_ms is None:
        return "never"
    at = local_time(int(wall_ms), coop_id)
    return f"{at:%Y-%m-%d %H:%M:%S} {at.tzname()}"


def counts(by_key: dict[str, int]) -> str:
    """``{'REGISTERED': 3, 'ACTIVE': 1}`` as ``3 registered, 1 active``."""
    return ", ".join(f"{count(n)} {k.lower().replace('_', ' ')}" for k, n in by_key.items())
