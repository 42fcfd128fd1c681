"""The reference subscriber's pure parts: --since, --filter, and its two output formats."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from central_projector.partners.routing import parse_partner_filter
from central_projector.partners.tail import Tailed, format_json, format_line, parse_since
from sync_core.errors import UsageError

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - dt.timedelta(seconds=90)),
        ("15m", NOW - dt.timedelta(minutes=15)),
        ("2h", NOW - dt.timedelta(hours=2)),
        ("1.5d", NOW - dt.timedelta(hours=36)),
        ("1w", NOW - dt.timedelta(days=7)),
        ("2026-02-28", dt.datetime(2026, 2, 28, tzinfo=dt.UTC)),
        ("2026-03-01T08:00:00+07:00", dt.datetime(2026, 3, 1, 1, 0, tzinfo=dt.UTC)),
        ("2026-03-01T08:00:00Z", dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)),
    ],
)
def test_since_takes_iso_times_and_durations(text: str, expected: dt.datetime) -> None:
    """--since is an ISO time (naive is UTC) or a duration back from now."""
    assert parse_since(text, NOW) == expected


def test_since_error_shows_both_forms() -> None:
    """A bad --since says which forms are accepted."""
    with pytest.raises(UsageError, match=r"ISO time .* or a duration"):
        parse_since("yesterday", NOW)


@pytest.mark.parametrize(
    "bad", ["kop.ev.>", "kop.partner", "kop.partner.>.62", "kop.partner.bank.6 2.>", "x"]
)
def test_filters_outside_partner_topics_are_refused(bad: str) -> None:
    """A filter must be a well-formed subject under kop.partner."""
    with pytest.raises(UsageError, match="--filter"):
        parse_partner_filter(bad)


def test_filters_are_narrowed_to_each_partner_stream() -> None:
    """A wildcard partner token is narrowed per stream; a named partner matches only itself."""
    assert parse_partner_filter("kop.partner.>").narrow("bank") == "kop.partner.bank.>"
    assert parse_partner_filter("kop.partner.*.64.>").narrow("bank") == "kop.partner.bank.64.>"
    assert parse_partner_filter("kop.partner.bulog.64.>").narrow("bank") is None
    assert parse_partner_filter("kop.partner.bulog.64.>").partner == "bulog"
    assert parse_partner_filter("kop.partner.*.64.>").partner is None


EVENT = {
    "event_id": "e-1",
    "coop_id": "6401050012",
    "device_id": "kasir-1",
    "seq": 3,
    "hlc": [1_772_366_400_000, 0],
    "type": "DeviceRegistered",
    "version": 1,
    "aggregate_id": "kasir-1",
    "payload": {"coop_id": "6401050012", "public_key": b"\x01\x02"},
}


def test_line_and_json_formats() -> None:
    """A line shows time, coop, type, aggregate, device:seq and payload; JSON keeps every field."""
    t = Tailed("kop.partner.bank.64.6401.6401050012.devices.DeviceRegistered", "S", 9, EVENT)
    assert format_line(t) == (
        "2026-03-01T12:00:00.000Z 6401050012 DeviceRegistered v1 kasir-1 kasir-1:3 "
        '{"coop_id": "6401050012", "public_key": "0102"}'
    )
    row = json.loads(format_json(t))
    assert row["stream_seq"] == 9 and row["subject"] == t.subject
    assert row["payload"]["public_key"] == "0102" and row["hlc"] == EVENT["hlc"]
