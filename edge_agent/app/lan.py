"""Siblings on the LAN: a device's exchange with its cooperative's hub (``kopsync edge hub``).

The hub is a nats-server on site, a leaf node of the province with a JetStream domain of
its own. Its stream KOP_LAN holds ``kop.lan.{coop}.{device}`` (each device publishes its own
events there, one envelope per message, ``Nats-Msg-Id: {device}:{seq}``) and sources the
cooperative's committed events from the province's KOP_EVENTS whenever the leaf is linked.
A device connected to the hub therefore:

- publishes its events after ``lan_published`` to the hub and reads KOP_LAN after
  ``lan_position`` (both in the ``sync`` meta record), handing every message to the store,
  which checks it as it checks any sibling's (:mod:`edge_agent.domain.siblings`);
- talks to the province through the leaf as it would directly (hello, uploads, downlink:
  the JetStream API of the province's domain), so the province receives every event once the
  link returns, from the device that keeps it until then;
- does not read the province's sibling feed: the hub sources it once for all its devices,
  so the satellite carries each sibling event down once per cooperative, not once per device.

The exchange runs in a loop of its own (:meth:`Lan.run`), so siblings share while the
province is unreachable. A hub that restarted empty is filled again from ``confirmed_seq``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.feed import follow_feed, read_feed, stream_info
from edge_agent.app.siblings import apply_siblings
from edge_agent.app.syncstate import Tally, read_sync, update_sync
from sync_core import subjects
from sync_core.errors import SyncError
from sync_core.protocol import LAN_STREAM, PROVINCE_DOMAIN, lan_consumer_name
from sync_core.transport.link import Link
from sync_core.transport.options import ConnectOptions
from sync_core.transport.stopping import sleep_unless_stopped

PUBLISHED, POSITION = "lan_published", "lan_position"
IN_FLIGHT = 64


class HubLink(Link):
    """A link to the cooperative's hub: the province's JetStream through the leaf (by its
    domain, or on a secured province by the devices' import), the hub's own (KOP_LAN) as
    :attr:`lan_js`."""

    def __init__(
        self, options: ConnectOptions, *, log: Any = None, domain: str = PROVINCE_DOMAIN
    ) -> None:
        super().__init__(options, log=log)
        self.domain = domain

    async def open(self, timeout_s: float | None, *, allow_reconnect: bool = True) -> None:
        await super().open(timeout_s, allow_reconnect=allow_reconnect)
        if self.options.js_api_prefix is None:
            self._js = self.nc.jetstream(domain=self.domain)
        # else (a secured province): the devices' import of the central's JetStream API,
        # reached across the leaf as from the province directly (Link.open set it)

    @property
    def lan_js(self) -> JetStreamContext:
        return self.nc.jetstream()


class Lan:
    """One device's exchange with its hub."""

    def __init__(self, agent: EdgeAgent, log: Any) -> None:
        self.agent = agent
        self.log = log
        self._one = asyncio.Lock()  # one exchange at a time (they share the consumer's name)

    async def exchange(self, link: HubLink, tally: Tally) -> None:
        """Publish the device's new events to the hub, then take in what its siblings sent."""
        async with self._one:
            await self._exchange(link, tally)

    async def _exchange(self, link: HubLink, tally: Tally) -> None:
        js = link.lan_js
        last = await self._stream_last(link, js)
        if last is None:
            return  # a hub without its stream yet (starting): nothing to do on it
        sync = read_sync(self.agent)
        if last < int(sync.get(POSITION, 0)):  # the hub restarted empty: fill it again
            update_sync(self.agent, {PUBLISHED: int(sync.get("confirmed_seq", 0))})
        await self._publish(link, js)
        await read_feed(
            link,
            js,
            LAN_STREAM,
            lan_consumer_name(self.agent.device_id),
            ">",
            int(read_sync(self.agent).get(POSITION, 0)),
            lambda msgs: self._take(msgs, tally),
            lambda position: update_sync(self.agent, {POSITION: position}),
            self.log,
        )

    async def run(self, link: HubLink, stop: asyncio.Event, poll_s: float) -> None:
        """Until ``stop`` or the link closes: publish new events every ``poll_s``, and take in
        the siblings' as the hub receives them."""
        await asyncio.gather(self._publishing(link, stop, poll_s), self._following(link, stop))

    async def _publishing(self, link: HubLink, stop: asyncio.Event, poll_s: float) -> None:
        while not stop.is_set() and not link.closed:
            try:
                await self._publish(link, link.lan_js)
            except SyncError as exc:
                self.log.warning("lan_publish_failed", error=str(exc))
            await sleep_unless_stopped(stop, poll_s)

    async def _following(self, link: HubLink, stop: asyncio.Event) -> None:
        agent = self.agent
        while not stop.is_set() and not link.closed:
            try:
                await follow_feed(
                    link,
                    link.lan_js,
                    LAN_STREAM,
                    lan_consumer_name(agent.device_id),
                    ">",
                    lambda: int(read_sync(agent).get(POSITION, 0)),
                    lambda msgs: self._take(msgs, Tally()),
                    lambda position: update_sync(agent, {POSITION: position}),
                    stop,
                )
            except SyncError as exc:
                self.log.warning("lan_follow_failed", error=str(exc))
                await sleep_unless_stopped(stop, 0.5)

    def _take(self, msgs: list[Msg], tally: Tally) -> None:
        apply_siblings(self.agent, [m.data for m in msgs], tally, self.log)

    async def _stream_last(self, link: Link, js: JetStreamContext) -> int | None:
        info = await stream_info(link, js, LAN_STREAM, 5)
        return None if info is None else int(info.state.last_seq)

    async def _publish(self, link: Link, js: JetStreamContext) -> None:
        agent = self.agent
        done = int(read_sync(agent).get(PUBLISHED, 0))
        head = agent.head().seq
        if head <= done:
            return
        subject = subjects.lan(agent.coop_id, agent.device_id)
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one(seq: int, data: bytes) -> None:
            async with slots:
                headers = {"Nats-Msg-Id": f"{agent.device_id}:{seq}"}
                await link.guarded(js.publish(subject, data, headers=headers), 5, "hub publish")

        events = list(agent.store.raw_events(done, head))
        results = await asyncio.gather(
            *(one(seq, bytes(data)) for seq, data in events), return_exceptions=True
        )
        published = done
        for (seq, _), result in zip(events, results, strict=True):
            if isinstance(result, BaseException):
                self.log.warning("lan_publish_failed", seq=seq, error=str(result))
                break
            published = seq
        update_sync(agent, {PUBLISHED: published})
