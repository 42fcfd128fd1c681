"""What every teller function shares: the recorder, ids, dates, optional fields."""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol, TypeVar

from sync_core import localtime
from sync_core.ids import check_id

R_co = TypeVar("R_co", covariant=True)

Line = tuple[str, int, int]
"""A sold line: (sku, qty, unit_price in rupiah)."""
Payment = tuple[str, int]
"""A payment: (method cash|khbs|member_credit, amount in rupiah)."""
Item = tuple[str, int]
"""Goods: (sku, qty)."""

MAIN = "main"


class Recorder(Protocol[R_co]):
    """Whatever records an edge event (an EdgeAgent, or a batch of drafts)."""

    @property
    def coop_id(self) -> str: ...

    def record(self, event_type: str, payload: dict[str, Any], aggregate_id: str) -> R_co: ...


def new_id(prefix: str) -> str:
    """A fresh id such as ``M-1a2b3c4d`` (prefix, '-', 8 random hex digits)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def today(recorder: Recorder[Any]) -> str:
    """Today in the recording cooperative's zone (WIB, WITA or WIT by its province): the
    default of a business date, so a repayment at 00:30 WITA is not dated the day before."""
    return localtime.today(recorder.coop_id, time.time_ns() // 1_000_000)


def given_id(value: str | None, prefix: str, what: str) -> str:
    return new_id(prefix) if value is None else check_id(value, what)


def present(**fields: Any) -> dict[str, Any]:
    """The fields that are given (optional payload fields are left out, not sent as null)."""
    return {k: v for k, v in fields.items() if v is not None}
