"""The edge replicator: upload the device's log, confirm it centrally, apply the downlink.

One sync cycle (docs/PROTOCOL.md):

1. **hello** (:mod:`edge_agent.app.confirm`): the central's committed seq, clock and key.
2. **upload** (:mod:`edge_agent.app.upload`) from ``max(committed, acked) + 1`` to the head,
   where ``acked`` is the highest seq JetStream acknowledged in this process. Once a hello in
   this process has shown the pinned central key, a reconnected device does not wait for the
   hello's answer: it publishes a head start (:func:`edge_agent.app.sendplan.head_start`)
   together with the hello, then carries on past it.
3. **downlink** (:mod:`edge_agent.app.downlink`): verified central events, applied; then the
   **siblings** (:mod:`edge_agent.app.siblings`): the cooperative's committed events.
4. **confirm** (:mod:`edge_agent.app.confirm`): hello again until the central committed what
   JetStream acked, re-sending what it lost.

The edge never forgets an event, so whatever JetStream loses, the next cycle re-sends.

The long-running ``run`` opens a fresh connection after a drop rather than letting nats-py
reconnect (see :mod:`sync_core.transport.link`); ``sync_once`` keeps nats-py's reconnect.
"""

from __future__ import annotations

import asyncio

import structlog

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.confirm import Handshake
from edge_agent.app.downlink import pull_downlink
from edge_agent.app.lan import HubLink, Lan
from edge_agent.app.sendplan import HEAD_START_FIRST, Backoff, Progress, Span, head_start, without
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.app.siblings import apply_siblings, follow_siblings, pull_siblings
from edge_agent.app.syncstate import SyncReport, Tally, read_sync
from edge_agent.app.upload import Uploader
from sync_core.errors import CentralKeyChanged, LinkDown, StoreFull, SyncError, SyncTimeout
from sync_core.protocol import DEVICE_JS_API, device_inbox_prefix
from sync_core.transport import ConnectOptions, Link
from sync_core.transport.stopping import abandon, sleep_unless_stopped

__all__ = ["CentralKeyChanged", "Replicator", "ReplicatorSettings", "SyncReport"]

LOGGER = "kopsync.edge.replicator"
# While events wait for the central's commit, hello at most this far apart (a few bytes each).
MAX_POLL_S = 2.0


class Replicator:
    """Replicates one device over NATS: ``sync_once`` for a one-shot, ``run`` for a service."""

    def __init__(self, agent: EdgeAgent, settings: ReplicatorSettings) -> None:
        self.agent = agent
        self.settings = settings
        # A logger per replicator, not one module-level proxy: with structlog's
        # cache_logger_on_first_use a module proxy keeps the processors of whichever
        # configuration was current when it was first bound, for the life of the process.
        self.log = structlog.get_logger(LOGGER).bind(
            coop_id=agent.coop_id, device_id=agent.device_id
        )
        self.progress = Progress()
        self.uploader = Uploader(agent, settings, self.progress)
        self.handshake = Handshake(agent, settings, self.progress, self.uploader, self.log)
        self.lan = Lan(agent, self.log)
        self.following = False  # siblings (or the LAN) followed beside the sync: ``run``
        self.hub_is_back = False  # the province's link was closed to go back to the hub

    # --- entry points ------------------------------------------------------------------
    async def sync_once(self, timeout_s: float = 30.0) -> SyncReport:
        """Connect, upload, apply the downlink and wait (within ``timeout_s``) for confirmation.

        Raises :class:`LinkDown` if the server cannot be reached in time, and
        :class:`SyncTimeout` if the link kept failing until the time ran out. A central that
        has not committed everything in time is not an error: see ``SyncReport.complete``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        tally = Tally()
        link = await self.connect(
            allow_reconnect=True, timeout_s=min(timeout_s, self.settings.connect_timeout_s)
        )
        try:
            while True:
                try:
                    await self.cycle(link, tally, confirm_until=deadline)
                    break
                except SyncError as exc:  # transport trouble or a central that said "later"
                    left = deadline - loop.time()
                    self.log.warning("sync_interrupted", error=str(exc), seconds_left=left)
                    if left <= 0 or not await link.wait_up(left):
                        raise SyncTimeout(
                            f"sync did not finish within {timeout_s:g} s ({exc}); "
                            "nothing is lost, the next sync carries on"
                        ) from exc
                    poll_s = self.settings.poll_s
                    pause = poll_s if isinstance(exc, LinkDown) else 5 * poll_s
                    await asyncio.sleep(min(pause, max(deadline - loop.time(), 0)))
        finally:
            await link.close()
        return self.report(tally)

    async def run(self, stop: asyncio.Event) -> None:
        """Replicate until ``stop`` is set: reconnect forever, sync on new events and regularly.

        A dropped connection is not left to nats-py's reconnect: the link closes and a fresh
        one is opened at once (``Link.open`` retries every ``reconnect_wait_s`` for up to
        ``connect_timeout_s``), which is ready sooner over a long round trip. A link that keeps
        failing without getting anything done, and an outage longer than ``connect_timeout_s``,
        wait a jittered backoff (up to ``backoff_cap_s``) before the next try. With a hub, each
        connect tries the hub first and the province when the hub does not answer; while on
        the hub, the LAN exchange runs beside the sync.
        """
        backoff = Backoff(0.2, self.settings.backoff_cap_s)
        while not stop.is_set():
            self.hub_is_back = False
            try:
                link = await self.connect(allow_reconnect=False)
            except LinkDown as exc:
                self.log.warning("connect_failed", error=str(exc))
                await sleep_unless_stopped(stop, backoff.next())
                continue
            self.following = True  # before the first cycle: it must not read them too
            beside = asyncio.ensure_future(self.beside(link, stop))
            try:
                progressed = await self.serve(link, stop, backoff)
            finally:
                self.following = False
                await link.close()
                await beside
            if progressed or self.hub_is_back:
                backoff.reset()
            else:  # connected, then failed before anything was done: do not hammer
                await sleep_unless_stopped(stop, backoff.next())

    async def beside(self, link: Link, stop: asyncio.Event) -> None:
        """What runs beside the sync while the link is open: the LAN exchange through a hub;
        the siblings' events followed as the province publishes them directly."""
        if isinstance(link, HubLink):
            await self.lan.run(link, stop, self.settings.lan_poll_s)
            return
        await asyncio.gather(self._follow(link, stop), self._back_to_hub(link, stop))

    async def _follow(self, link: Link, stop: asyncio.Event) -> None:
        while not stop.is_set() and not link.closed:
            try:
                await follow_siblings(link, self.agent, stop, self.log)
            except SyncError as exc:
                self.log.warning("siblings_follow_failed", error=str(exc))
                await sleep_unless_stopped(stop, 1.0)

    async def _back_to_hub(self, link: Link, stop: asyncio.Event) -> None:
        """On the province while a hub is configured (it did not answer at connect): try the
        hub every ``hub_retry_s``; once it answers, close the province's link, so that the
        next connect (hub first) takes the hub again."""
        hub = self.settings.hub
        if hub is None:
            return
        loop = asyncio.get_running_loop()
        while not stop.is_set() and not link.closed:
            due = loop.time() + self.settings.hub_retry_s
            while loop.time() < due and not stop.is_set() and not link.closed:
                await sleep_unless_stopped(stop, min(0.2, due - loop.time()))
            if stop.is_set() or link.closed:
                return
            probe = self.link(hub)
            try:
                await probe.open(self.settings.hub_connect_s, allow_reconnect=False)
            except LinkDown:
                continue
            finally:
                await probe.close()
            self.log.info("hub_back", hub=hub.url)
            self.hub_is_back = True
            await link.close()

    async def connect(self, *, allow_reconnect: bool, timeout_s: float | None = None) -> Link:
        """The hub's link if it answers in time, else the province's (``LinkDown`` if neither)."""
        s = self.settings
        if s.hub is not None:
            hub = self.link(s.hub)
            try:
                await hub.open(s.hub_connect_s, allow_reconnect=allow_reconnect)
                return hub
            except LinkDown as exc:
                self.log.info("hub_unreachable", hub=s.hub.url, error=str(exc))
        link = self.link()
        await link.open(timeout_s or s.connect_timeout_s, allow_reconnect=allow_reconnect)
        return link

    async def serve(self, link: Link, stop: asyncio.Event, backoff: Backoff) -> bool:
        """Sync over ``link`` until it closes or ``stop``; whether anything moved forward."""
        loop = asyncio.get_running_loop()
        s = self.settings
        next_due = 0.0
        poll_gap = s.poll_s
        acked_before, progressed = self.progress.acked, False
        while not stop.is_set() and not link.closed:
            now = loop.time()
            if self.agent.head().seq > self.progress.acked or now >= next_due:
                tally = Tally()
                try:
                    await self.cycle(link, tally, confirm_until=now + s.confirm_wait_s)
                except SyncError as exc:
                    self.log.warning("sync_failed", error=str(exc))
                    if link.closed or link.down.is_set():
                        # The caller opens a fresh link at once.
                        return progressed or self.progress.acked > acked_before
                    await sleep_unless_stopped(stop, backoff.next())
                    continue
                except StoreFull as exc:
                    # The device's disk is full: its log lost nothing (every transaction is
                    # atomic) and space may come back; a service that exited would not notice.
                    self.log.error("store_full", error=str(exc))
                    await sleep_unless_stopped(stop, max(backoff.next(), 1.0))
                    continue
                backoff.reset()
                progressed = True
                report = self.report(tally)
                if tally.uploaded or tally.downloaded or tally.refused or tally.siblings:
                    self.log.info("synced", **report.to_json())
                if report.complete or (report.central_answered and not report.registered):
                    poll_gap, wait = s.poll_s, s.refresh_s
                else:  # not committed yet, or the central is away: ask again, less often
                    poll_gap = min(poll_gap * 2, MAX_POLL_S)
                    wait = poll_gap
                next_due = loop.time() + wait
            await sleep_unless_stopped(stop, s.poll_s)
        return progressed or self.progress.acked > acked_before

    # --- one cycle ---------------------------------------------------------------------
    async def cycle(self, link: Link, tally: Tally, *, confirm_until: float) -> None:
        """Hello (with a head start alongside, once trusted), upload, downlink, confirm."""
        progress, uploader = self.progress, self.uploader
        if isinstance(link, HubLink) and not self.following:
            await self.lan.exchange(link, tally)  # first: the province may be out of reach
        early = head_start(progress, self.agent.head().seq, self.settings.head_start_events)
        hello = asyncio.ensure_future(self.handshake.hello(link, tally))
        upload: asyncio.Future[None] | None = None
        rest: asyncio.Future[list[Span]] | None = None
        if early is not None:
            await asyncio.sleep(0)  # the hello goes out ahead of the batches
            rest = asyncio.get_running_loop().create_future()
            upload = asyncio.ensure_future(
                uploader.publish_ranges(
                    link, [early], tally, resend=False, first_events=HEAD_START_FIRST, then=rest
                )
            )
        try:
            reply = await hello
        except BaseException:
            if upload is not None:
                await abandon(upload)
            raise
        head = self.agent.head().seq
        committed = self.handshake.committed(reply)
        if head < committed:
            self.log.error(
                "central_ahead_of_device",
                head_seq=head,
                committed_seq=committed,
                detail="the device's log is older than what the central committed "
                "(restored from a backup?)",
            )
        # What the central committed needs no upload, whatever this process sent before.
        progress.acked = max(progress.acked, committed)
        if upload is not None and rest is not None and early is not None:
            rest.set_result(without((progress.acked + 1, head), early))
            await upload
        elif progress.acked < head:
            await uploader.publish_ranges(link, [(progress.acked + 1, head)], tally, resend=False)
        downloaded = tally.downloaded
        await pull_downlink(link, self.agent, tally, self.log)
        if tally.downloaded > downloaded:  # new registrations: judge the held siblings again
            apply_siblings(self.agent, [], tally, self.log)
        if not isinstance(link, HubLink) and not self.following:
            # (a hub sources them for all its devices; `run` follows them beside the sync)
            await pull_siblings(link, self.agent, tally, self.log)
        if reply is not None and reply.registered:
            await self.handshake.confirm(link, tally, reply, confirm_until)

    # --- helpers -----------------------------------------------------------------------
    def link(self, hub: ConnectOptions | None = None) -> Link:
        """A link to the province, or to the cooperative's hub when ``hub`` is given (whose
        link reaches the province's JetStream by its domain, :class:`HubLink`)."""
        connection = hub or self.settings.connection
        options = connection.but(
            name=f"kopsync-edge-{self.agent.device_id}",
            # A device's permissions allow replies only under its own prefix.
            inbox_prefix=device_inbox_prefix(self.agent.device_id),
            reconnect_wait_s=self.settings.reconnect_wait_s,
            # On the secured server (a credential) the device's account reaches the
            # downlink's JetStream API as imported from the central's; an open server
            # has one account.
            js_api_prefix=connection.js_api_prefix
            or (DEVICE_JS_API if connection.authenticated else None),
        )
        if hub is not None:
            return HubLink(options, log=self.log)
        return Link(options, log=self.log)

    def report(self, tally: Tally) -> SyncReport:
        return SyncReport(
            uploaded=tally.uploaded,
            batches=tally.batches,
            resent=tally.resent,
            bytes_sent=tally.bytes_sent,
            confirmed_seq=int(read_sync(self.agent).get("confirmed_seq", 0)),
            head_seq=self.agent.head().seq,
            downloaded=tally.downloaded,
            refused=tally.refused,
            central_answered=tally.central_answered,
            registered=tally.registered,
            siblings=tally.siblings,
        )
