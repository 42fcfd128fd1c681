"""The per-device quarantine budget and the cap on one upload's cost, decided without I/O."""

from __future__ import annotations

import pytest

from central_projector.ingest.budget import NOTE_EVERY_MS, PURGE_EVERY_MS, QuarantineBudget
from sync_core.batch import MAX_BATCH_EVENTS, Oversize, decode_batch, encode_batch

NOW = 1_790_000_000_000


def test_a_device_spends_its_burst_then_earns_one_record_a_second() -> None:
    """After 100 records a device is over budget; each second earns it one more; another
    device is not affected."""
    budget = QuarantineBudget()
    for i in range(100):
        assert not budget.exhausted("penyerang-1", NOW + i)
        budget.spend("penyerang-1", 1, NOW + i)
    assert budget.exhausted("penyerang-1", NOW + 100)
    assert not budget.exhausted("kasir-1", NOW + 100)
    assert not budget.exhausted("penyerang-1", NOW + 1_200)
    budget.spend("penyerang-1", 1, NOW + 1_200)
    assert budget.exhausted("penyerang-1", NOW + 1_300)


def test_over_budget_is_noted_once_a_minute_and_a_full_bucket_is_forgotten() -> None:
    """One over_budget record per device per minute; a device whose bucket refilled is
    forgotten, so the budget's memory stays bounded by the devices misbehaving now."""
    budget = QuarantineBudget()
    budget.spend("penyerang-1", 500, NOW)
    assert budget.note_due("penyerang-1", NOW)
    assert not budget.note_due("penyerang-1", NOW + NOTE_EVERY_MS - 1)
    assert budget.note_due("penyerang-1", NOW + NOTE_EVERY_MS)
    assert not budget.exhausted("penyerang-1", NOW + 1_000_000)
    assert budget._buckets == {}


@pytest.mark.parametrize("events", [MAX_BATCH_EVENTS + 1, 500_000])
def test_a_batch_of_more_events_than_the_cap_is_oversize(events: int) -> None:
    """A batch holding more than 5,000 events is refused as oversize, however small its bytes."""
    data = encode_batch("6401050012", "penyerang-1", [b""] * events)
    with pytest.raises(Oversize, match=f"{events} events"):
        decode_batch(data)
    assert len(decode_batch(encode_batch("6401050012", "k", [b""] * MAX_BATCH_EVENTS)).events)


def test_an_over_budget_device_is_purged_at_most_every_few_milliseconds() -> None:
    """Purging a flooding device's pending uploads is rate-limited per device."""
    budget = QuarantineBudget()
    budget.spend("penyerang-1", 500, NOW)
    assert budget.purge_due("penyerang-1", NOW)
    assert not budget.purge_due("penyerang-1", NOW + PURGE_EVERY_MS - 1)
    assert budget.purge_due("penyerang-1", NOW + PURGE_EVERY_MS)
