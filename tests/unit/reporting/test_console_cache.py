"""The console's roll-up cache: a burst computes once, an expired or disabled entry again."""

from __future__ import annotations

import threading
import time

from central_projector.console.cache import TtlCache


def test_a_burst_of_requests_computes_once() -> None:
    """Twenty threads asking for the same roll-up at once share one computation."""
    cache = TtlCache(ttl_s=60)
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> int:
        gate.wait(5)
        calls.append(1)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("62", compute)[0]))
               for _ in range(20)]  # fmt: skip
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert results == [42] * 20 and len(calls) == 1


def test_an_expired_entry_is_served_while_its_successor_is_computed() -> None:
    """Past its time an entry is still served at once, and one background computation
    replaces it; a time of 0 computes every call."""
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    short = TtlCache(ttl_s=0.05)
    assert short.get("k", compute)[0] == 1
    time.sleep(0.1)
    assert short.get("k", compute)[0] == 1  # stale, served; the refresh starts
    deadline = time.monotonic() + 5
    while short.get("k", compute)[0] != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert short.get("k", compute)[0] == 2 and len(calls) == 2
    off = TtlCache(ttl_s=0)
    assert [off.get("k", compute)[0] for _ in range(2)] == [3, 4]


def test_warm_computes_in_the_background() -> None:
    """A warmed key is there for its first asker without computing again."""
    cache = TtlCache(ttl_s=60)
    calls: list[int] = []
    cache.warm("62", lambda: calls.append(1) or 7)
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert cache.get("62", lambda: 8)[0] == 7 and len(calls) == 1
