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


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("SaleRecorded", 1): sale_recorded_v1_to_v2,
}
