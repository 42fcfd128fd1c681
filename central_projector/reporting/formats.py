"""How figures are written for people: rupiah as ``Rp1.234.567``, counts with dots."""

from __future__ import annotations


def rupiah(amount: int) -> str:
    """``Rp1.234.567`` (``-Rp5.000`` below zero): Indonesian thousands separators."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def count(n: int) -> str:
    """``1.571``: a whole number with Indonesian thousands separators."""
    return f"{n:,}".replace(",", ".")


def percent_bp(bp: int) -> str:
    """Basis points as a percentage with a decimal comma: ``1234`` -> ``12,34 %``."""
    return f"{bp // 100},{bp % 100:02d} %"


_MONEY = frozenset({"balance", "disbursed", "repaid", "written_off", "recovered", "allocated",
                    "utilised", "par30", "principal_repaid", "interest_repaid", "overpaid",
                    "outstanding_principal", "interest_outstanding", "principal_in_arrears",
                    "interest_in_arrears"})  # fmt: skip
_MONEY_GROUPS = ("by_product", "arrears_buckets")


def is_money(path: str) -> bool:
    """Whether the figure at dotted ``path`` (``loans.arrears_buckets.1-30``) is rupiah."""
    parts = path.split(".")
    last = parts[-1]
    return (
        last in _MONEY
        or last.endswith(("value", "amount", "value_at_risk"))
        or any(g in parts[:-1] for g in _MONEY_GROUPS)
    )


def figure(path: str, value: int) -> str:
    """A figure as people read it: rupiah, basis points or a count."""
    if path.endswith("_bp"):
        return percent_bp(value)
    return rupiah(value) if is_money(path) else count(value)
