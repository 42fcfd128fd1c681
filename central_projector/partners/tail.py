"""``kopsync partner tail``: the reference subscriber of partner topics.

An ordered consumer (ephemeral, no acks, the client restarts it on a gap) on each partner
stream the filter can match, from ``--since`` or from the start of the stream. What a
partner's own code has to do is the same: subscribe, decode msgpack, de-duplicate by
``(device_id, seq)``, order by ``(hlc, device_id, seq)`` if order matters.

Parsing and formatting are pure functions; :func:`tail` does the I/O.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from central_projector.partners.routing import PartnerFilter, parse_partner_filter
from sync_core import codec
from sync_core.errors import KopsyncError, UsageError
from sync_core.protocol import PARTNER_STREAM_PREFIX, partner_inbox_prefix, partner_stream
from sync_core.transport import ConnectOptions, connected

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\Z")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True)
class Tailed:
    """One message of a partner stream."""

    subject: str
    stream: str
    stream_seq: int
    event: dict[str, Any]


# --- pure --------------------------------------------------------------------------------
def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """An ISO time (naive means UTC) or a duration back from ``now`` (90s, 15m, 2h, 7d, 1w)."""
    text = text.strip()
    m = _DURATION.match(text)
    if m:
        return now - dt.timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2)])
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since must be an ISO time (2026-03-01T08:00:00+07:00, 2026-03-01) or a "
            f"duration (90s, 15m, 2h, 7d), got {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def jsonable(value: Any) -> Any:
    """Bytes as hex, everything else as msgpack gave it."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def format_json(t: Tailed) -> str:
    return json.dumps(
        {"subject": t.subject, "stream": t.stream, "stream_seq": t.stream_seq, **jsonable(t.event)},
        ensure_ascii=False,
        sort_keys=True,
    )


def format_line(t: Tailed) -> str:
    e = t.event
    hlc = e.get("hlc")
    when = (
        dt.datetime.fromtimestamp(hlc[0] / 1000, dt.UTC).isoformat(timespec="milliseconds")
        if isinstance(hlc, list) and hlc and isinstance(hlc[0], int)
        else "?"
    )
    payload = json.dumps(jsonable(e.get("payload", {})), ensure_ascii=False, sort_keys=True)
    return (
        f"{when.replace('+00:00', 'Z')} {e.get('coop_id')} {e.get('type')} v{e.get('version')} "
        f"{e.get('aggregate_id')} {e.get('device_id')}:{e.get('seq')} {payload}"
    )


# --- I/O ---------------------------------------------------------------------------------
async def tail(
    connection: ConnectOptions,
    subject_filter: str,
    emit: Callable[[Tailed], None],
    *,
    since: dt.datetime | None = None,
    limit: int | None = None,
    idle_exit_s: float | None = None,
    stop: asyncio.Event | None = None,
    connect_timeout_s: float = 5.0,
) -> int:
    """Emit every message matching the filter until ``limit``, ``idle_exit_s`` or ``stop``."""
    wanted = parse_partner_filter(subject_filter)
    stop = stop or asyncio.Event()
    # A partner may subscribe only under its own inbox prefix (the ordered consumers deliver
    # there); a wildcard filter names no partner and keeps the prefix the caller gave.
    if wanted.partner is not None:
        connection = connection.but(inbox_prefix=partner_inbox_prefix(wanted.partner))
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        await queue.put(msg)

    # Once connected, the link rides out server restarts (it reconnects forever).
    async with connected(connection, connect_timeout_s) as link:
        js = link.js
        streams = await _streams(js, wanted)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
            opt_start_time=since,
        )
        for partner_id, stream in streams:
            narrowed = wanted.narrow(partner_id)
            assert narrowed is not None
            await js.subscribe(
                narrowed, stream=stream, cb=on_msg, ordered_consumer=True, config=config
            )
        return await _drain(queue, emit, limit, idle_exit_s, stop)


async def _streams(js: Any, wanted: PartnerFilter) -> list[tuple[str, str]]:
    """(partner id, stream name) of every partner stream the filter can match."""
    named = wanted.partner
    if named is not None:
        stream = partner_stream(named)
        try:
            await js.stream_info(stream)
        except NotFoundError:
            raise UsageError(
                f"no partner stream {stream}: is partner '{named}' in the config of a running "
                "`kopsync partner fanout`?"
            ) from None
        return [(named, stream)]
    found = []
    for info in await js.streams_info():
        name = info.config.name
        if name.startswith(PARTNER_STREAM_PREFIX):
            partner_id = name[len(PARTNER_STREAM_PREFIX) :].lower()
            if wanted.narrow(partner_id) is not None:
                found.append((partner_id, name))
    if not found:
        raise UsageError("no partner stream on this server: is `kopsync partner fanout` running?")
    return sorted(found)


async def _drain(
    queue: asyncio.Queue[Msg],
    emit: Callable[[Tailed], None],
    limit: int | None,
    idle_exit_s: float | None,
    stop: asyncio.Event,
) -> int:
    count = 0
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while limit is None or count < limit:
            getting = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getting, stopping}, timeout=idle_exit_s, return_when=asyncio.FIRST_COMPLETED
            )
            if getting not in done:
                getting.cancel()
                break  # stopped, or idle for idle_exit_s
            msg = getting.result()
            emit(_tailed(msg))
            count += 1
    finally:
        stopping.cancel()
    return count


def _tailed(msg: Msg) -> Tailed:
    meta = msg.metadata
    try:
        event = codec.decode(msg.data)
        if not isinstance(event, dict):
            raise UsageError("not a map")
    except KopsyncError as exc:
        event = {"undecodable": str(exc)}
    return Tailed(msg.subject, meta.stream, int(meta.sequence.stream), event)
