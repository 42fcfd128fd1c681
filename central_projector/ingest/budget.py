"""Each device's quarantine budget: how much refused input ingest takes from it. Pure.

A device's credential lets it publish only on its own upload subject, but as fast as it
likes; every refused upload costs ingest a transaction and the record a quarantine row.
So each device has a bucket of :data:`BURST` quarantine records that refills at
:data:`PER_SECOND`. While a device's bucket is empty, its uploads are not processed at all:
they are acknowledged and counted, its pending uploads are purged from KOP_INGEST (a real
device re-sends whatever the central did not commit), and one ``over_budget`` record per
:data:`NOTE_EVERY_MS` (holding one of the messages) says so in the quarantine. No
well-behaved device comes near the budget: it sends nothing that is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

BURST = 100.0  # quarantine records a device may cause at once
PER_SECOND = 1.0  # and then this many a second
NOTE_EVERY_MS = 60_000  # one over_budget record per device at most this often
PURGE_EVERY_MS = 5  # an over-budget device's pending uploads are purged at most this often


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_ms: int
    noted_ms: int | None = None
    purged_ms: int | None = None


class QuarantineBudget:
    """Token buckets of quarantine records, one per device (by the subject's device id)."""

    def __init__(self, burst: float = BURST, per_second: float = PER_SECOND) -> None:
        self.burst = burst
        self.per_second = per_second
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, device: str, now_ms: int) -> _Bucket:
        b = self._buckets.get(device)
        if b is None:
            b = self._buckets[device] = _Bucket(self.burst, now_ms)
        elapsed = max(0, now_ms - b.at_ms)
        b.tokens = min(self.burst, b.tokens + elapsed * self.per_second / 1000)
        b.at_ms = now_ms
        return b

    def exhausted(self, device: str, now_ms: int) -> bool:
        """Whether ``device`` has spent its budget (its uploads are skipped)."""
        if device not in self._buckets:
            return False
        b = self._bucket(device, now_ms)
        if b.tokens >= self.burst:  # full again: the device is forgotten (memory stays bounded)
            del self._buckets[device]
        return b.tokens < 1

    def spend(self, device: str, records: int, now_ms: int) -> None:
        """``device`` caused ``records`` quarantine records."""
        if records:
            self._bucket(device, now_ms).tokens -= records

    def note_due(self, device: str, now_ms: int) -> bool:
        """Whether an ``over_budget`` record is due for ``device`` now (and count it written)."""
        b = self._bucket(device, now_ms)
        if b.noted_ms is not None and now_ms - b.noted_ms < NOTE_EVERY_MS:
            return False
        b.noted_ms = now_ms
        return True

    def purge_due(self, device: str, now_ms: int) -> bool:
        """Whether to purge ``device``'s pending uploads from KOP_INGEST now (and count it done).

        Skipping a flood one message at a time still leaves every other device's upload
        queued behind it; purged, the flood's messages are gone from the stream before ingest
        ever fetches them, and another device's upload waits for at most what the flood
        published since the last purge.
        """
        b = self._bucket(device, now_ms)
        if b.purged_ms is not None and now_ms - b.purged_ms < PURGE_EVERY_MS:
            return False
        b.purged_ms = now_ms
        return True
