"""Roll-ups shared by the operators, refreshed behind their backs.

A province page sums every cooperative's read-model rows: seconds of database work at a
province's scale, too long to make an operator wait for, and wasted when twenty operators
open the same page in the same minute. So a computed roll-up is kept: younger than
``ttl_s`` it is served as it is; older, it is still served at once while one background
thread computes its successor (stale-while-revalidate); only a roll-up never computed
makes its first asker wait, and then everyone asking for it waits for that one
computation. Every page says when its figures were computed. ``ttl_s`` 0 computes every
time (no sharing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import structlog

log = structlog.get_logger("kopsync.console")


class TtlCache:
    def __init__(self, ttl_s: float, max_entries: int = 512) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, float]:
        """The value for ``key`` and the Unix time it was computed at."""
        if self.ttl_s <= 0:
            return compute(), time.time()
        entry = self._entries.get(key)
        if entry is not None:
            if time.time() - entry[0] >= self.ttl_s:
                self._refresh_later(key, compute)
            return entry[1], entry[0]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is not None:
                return entry[1], entry[0]
            return self._compute(key, compute)

    def _compute(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, float]:
        value, at = compute(), time.time()
        with self._guard:
            if key not in self._entries and len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest key made
            self._entries[key] = (at, value)
        return value, at

    def _refresh_later(self, key: Hashable, compute: Callable[[], Any]) -> None:
        with self._guard:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def refresh() -> None:
            try:
                self._compute(key, compute)
            except Exception as exc:  # the stale figures stay; the next request tries again
                log.warning("rollup_refresh_failed", key=str(key), error=repr(exc))
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name="rollup-refresh", daemon=True).start()

    def warm(self, key: Hashable, compute: Callable[[], Any]) -> None:
        """Compute ``key`` in the background now (the console's regions at start)."""
        if self.ttl_s > 0 and key not in self._entries:
            self._refresh_later(key, compute)
