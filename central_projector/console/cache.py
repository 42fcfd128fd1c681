"""Roll-ups shared by the operators for a few seconds.

A province page sums every cooperative's read-model rows; twenty operators opening it
in the same minute need not sum them twenty times. A computed roll-up is served again
for ``ttl_s`` seconds (the page says when it was computed); one request computes a
missing entry while the others asking for the same one wait for it, so a burst costs
one computation. ``ttl_s`` 0 computes every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    def __init__(self, ttl_s: float, max_entries: int = 512) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, float]:
        """The value for ``key`` and the Unix time it was computed at."""
        if self.ttl_s <= 0:
            return compute(), time.time()
        hit = self._fresh(key)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit
            value, at = compute(), time.time()
            with self._guard:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (at, value)
            return value, at

    def _fresh(self, key: Hashable) -> tuple[Any, float] | None:
        entry = self._entries.get(key)
        if entry is not None and time.time() - entry[0] < self.ttl_s:
            return entry[1], entry[0]
        return None
