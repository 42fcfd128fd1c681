"""Siblings through the province: the committed events of the device's cooperative.

Once the central has committed an event, ``ingest/outbox`` publishes it on its canonical
subject ``kop.ev.{prov}.{regency}.{coop}.{area}.{type}`` (stream KOP_EVENTS). A device reads
its own cooperative's subjects with the consumer ``sib-{device}`` (the one its permissions
allow, filter ``kop.ev.{prov}.{regency}.{coop}.>``) from the position it saved
(``sibling_position`` in the ``sync`` meta record), and hands every message to the store,
which checks it against the sibling's registered key and chain
(:mod:`edge_agent.domain.siblings`); its own events and the central's are skipped there.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.msg import Msg

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.feed import follow_feed, read_feed
from edge_agent.app.syncstate import Tally, read_sync, update_sync
from sync_core import subjects
from sync_core.protocol import EVENTS_STREAM, sibling_consumer_name
from sync_core.transport.link import Link
from sync_core.transport.stopping import sleep_unless_stopped

POSITION = "sibling_position"


async def pull_siblings(link: Link, agent: EdgeAgent, tally: Tally, log: Any) -> None:
    """Take in the cooperative's committed events after the saved position."""
    if read_sync(agent).get("central_key") is None:
        return  # registrations come on the verified downlink: nothing to check them by yet

    def take(msgs: list[Msg]) -> None:
        apply_siblings(agent, [m.data for m in msgs], tally, log)

    await read_feed(
        link,
        link.js,
        EVENTS_STREAM,
        sibling_consumer_name(agent.device_id),
        subjects.coop_events(agent.coop_id),
        int(read_sync(agent).get(POSITION, 0)),
        take,
        lambda position: update_sync(agent, {POSITION: position}),
        log,
    )


async def follow_siblings(link: Link, agent: EdgeAgent, stop: asyncio.Event, log: Any) -> None:
    """Take in the cooperative's committed events as the province publishes them, until
    ``stop`` or the link closes (``kopsync edge run``: within a round trip of the commit)."""
    while read_sync(agent).get("central_key") is None:  # the first hello pins it
        if stop.is_set() or link.closed:
            return
        await sleep_unless_stopped(stop, 0.5)
    await follow_feed(
        link,
        link.js,
        EVENTS_STREAM,
        sibling_consumer_name(agent.device_id),
        subjects.coop_events(agent.coop_id),
        lambda: int(read_sync(agent).get(POSITION, 0)),
        lambda msgs: apply_siblings(agent, [m.data for m in msgs], Tally(), log),
        lambda position: update_sync(agent, {POSITION: position}),
        stop,
    )


def apply_siblings(agent: EdgeAgent, datas: list[bytes], tally: Tally, log: Any) -> None:
    """Hand sibling messages to the store and count what it did (any path: province, hub)."""
    receipt = agent.receive_siblings(datas)
    for verdict in receipt.refused:
        log.error("sibling_refused", **verdict.to_json())
    tally.siblings += len(receipt.taken)
    tally.refused += len(receipt.refused)
