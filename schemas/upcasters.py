"""Upcasters: pure functions that turn a payload of version N into version N+1.

Stored events are never rewritten; an old version is upcast each time it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


def sale_recorded_v1_to_v2(payload: Payload) -> Payload:
    """v1 had one ``payment_method`` and ``amount``; v2 has a list of ``payments``."""
    out = {k: v for k, v in payload.items() if k not in ("payment_method", "amount")}
    out["payments"] = [{"method": payload["payment_method"], "amount": payload["amount"]}]
    return out


def sale_recorded_v2_to_v3(payload: Payload) -> Payload:
    """v3 may carry ``price_override_reason``; a v2 sale was never checked against the
    price list, so it has none (the same payload, read as v3)."""
    return dict(payload)


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("SaleRecorded", 1): sale_recorded_v1_to_v2,
    ("SaleRecorded", 2): sale_recorded_v2_to_v3,
}
