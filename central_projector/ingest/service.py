"""The central ingest service: JetStream in, the central store as the record, JetStream out.

Four concurrent loops on one NATS connection (a :class:`sync_core.transport.Link`,
reconnecting forever):

- **ingest**: fetch from the durable pull consumer ``ingest``; for each message
  ``store.process_upload`` (one database transaction) and only *then* ack. A crash between
  commit and ack redelivers the message, and ``(device_id, seq)`` makes it a duplicate with
  no effect. A message the store cannot take (database down) is not acked (nak with a delay)
  and comes back; a poison message is quarantined by the store, so it is acked like any
  other. The loop is supervised: pull subscriptions can stall after a server restart, so when
  fetches keep failing, or nothing arrives while the consumer reports pending messages, the
  subscription (and, if the server lost them, the streams) is made again.
- **hello**: answer ``kop.hello.*.*`` (queue group ``central``) from the store
  (:mod:`central_projector.ingest.hello`), adding ``ingest_seq``: the KOP_INGEST stream
  sequence up to which every upload has been processed and acked (the consumer's ack floor,
  which also jumps over a purge). A device whose batch sits at or below it and is still not
  committed knows the message is lost and re-sends it at once; above it, the central is only
  busy and the device waits.
- **outbox**: publish what the store committed to ``KOP_EVENTS``, ``KOP_DOWN`` and
  ``KOP_QUARANTINE`` with ``Nats-Msg-Id``, then mark it published. A crash in between
  re-publishes; JetStream's window and the consumers' ``(device_id, seq)`` absorb it.
- **gaps**: apply events held behind a gap older than the gap timeout, flagged ``GAP``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from central_projector.ingest.budget import BURST, QuarantineBudget
from central_projector.ingest.handler import UploadHandler
from central_projector.ingest.hello import HelloDesk
from central_projector.ingest.outbox import publish_items
from central_projector.ingest.partitions import floor_of
from central_projector.ingest.stats import ServiceStats
from central_projector.ingest.streams import StreamSettings, ensure_streams, ingest_consumers
from central_projector.record import leases
from central_projector.record.store import CentralStore, OutboxItem
from sync_core import subjects
from sync_core.protocol import INGEST_CONSUMER, INGEST_STREAM
from sync_core.transport import ConnectOptions, Link
from sync_core.transport.stopping import sleep_unless_stopped

T = TypeVar("T")

log = structlog.get_logger("kopsync.central")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CentralService:
    """Runs the four loops until :meth:`stop`."""

    def __init__(
        self,
        store: CentralStore,
        connection: ConnectOptions | str,
        *,
        gap_timeout_s: float = 300.0,
        fetch_batch: int = 64,
        fetch_timeout_s: float = 2.0,
        stall_fetches: int = 3,
        publish_timeout_s: float = 10.0,
        outbox_batch: int = 500,
        hello_concurrency: int = 8,
        settings: StreamSettings | None = None,
        clock: Callable[[], int] = wall_ms,
        worker_id: str = "ingest",
        lease_ttl_s: float = 10.0,
        quarantine_burst: float = BURST,
    ) -> None:
        self.store = store
        if isinstance(connection, str):  # a plain URL: an open development server
            connection = ConnectOptions.for_url(connection)
        # The central keeps nats-py's default _INBOX prefix, which only its permissions allow.
        self.connection = connection.but(name="kopsync-central", inbox_prefix=None)
        self.gap_timeout_s = gap_timeout_s
        self.fetch_batch = fetch_batch
        self.fetch_timeout_s = fetch_timeout_s
        self.stall_fetches = stall_fetches
        self.publish_timeout_s = publish_timeout_s
        self.outbox_batch = outbox_batch
        self.settings = settings or StreamSettings()
        self.clock = clock
        self.stats = ServiceStats()
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._link = Link(self.connection, log=log)
        self._ingest_floor: int | None = None
        # SQLite has one writer and its busy handler is not fair: an ingest thread that begins
        # its next transaction right after a commit can starve a hello for many seconds. A
        # FIFO asyncio lock gives them turns. PostgreSQL needs no such thing.
        self._turn: asyncio.Lock | None = (
            asyncio.Lock() if store.engine.dialect.name == "sqlite" else None
        )
        self._hellos = HelloDesk(
            store, self._db, lambda: self._ingest_floor, clock, self.stats, hello_concurrency
        )
        self._uploads = UploadHandler(
            store,
            self._db,
            self.stats,
            clock,
            self._outbox_wake,
            QuarantineBudget(quarantine_burst),
            lambda subject: self.js.purge_stream(INGEST_STREAM, subject=subject),
        )
        # Partitioned ingest (settings.ingest_partitions > 1): consumer -> fencing token
        self.worker_id = worker_id
        self.lease_ttl_ms = int(lease_ttl_s * 1000)
        self.partitions_held: dict[str, int] = {}

    @property
    def nats_url(self) -> str:
        return self.connection.url

    def stop(self) -> None:
        self._stop.set()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call in a thread (taking turns on SQLite)."""
        if self._turn is None:
            return await asyncio.to_thread(fn, *args)
        async with self._turn:
            return await asyncio.to_thread(fn, *args)

    @property
    def js(self) -> JetStreamContext:
        return self._link.js

    # --- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (waiting for the server as long as it takes), then serve until stopped."""
        if not await self._link.open_until_stopped(self._stop):
            return
        try:
            hello_sub = await self._link.nc.subscribe(
                subjects.hello_wildcard(), queue="central", cb=self._hellos.on_hello
            )
            loops = [
                self._ingest_loops(),
                self._floor_loop(),
                self._outbox_loop(),
                self._gap_loop(),
            ]
            tasks = [asyncio.create_task(coro) for coro in loops]
            log.info("central_started", nats=self.nats_url, store=_safe_url(self.store.url))
            try:
                await self._stop.wait()
            finally:
                # The loops look at the stop flag between messages, so none is cut mid-way.
                done, pending = await asyncio.wait(tasks, timeout=self.fetch_timeout_s + 10)
                for task in pending:
                    task.cancel()
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("loop_failed", error=repr(task.exception()))
                with contextlib.suppress(Exception):
                    await hello_sub.unsubscribe()
                self._hellos.cancel()
        finally:
            await self._link.close()
            log.info("central_stopped", **self.stats.as_log())

    async def _sleep(self, seconds: float) -> None:
        await sleep_unless_stopped(self._stop, seconds)

    # --- ingest ------------------------------------------------------------------------
    async def _ingest_loops(self) -> None:
        """One consumer; or, partitioned, one loop per partition whose lease this worker holds."""
        if self.settings.ingest_partitions <= 1:
            await self._ingest_loop(INGEST_CONSUMER)
            return
        running: dict[str, asyncio.Task[None]] = {}
        names = [name for name, _ in ingest_consumers(self.settings)]
        try:
            while not self._stop.is_set():
                try:
                    await self._claim_partitions(names, running)
                    if not self.ready.is_set():
                        await ensure_streams(self.js, self.settings)
                        self.ready.set()
                except Exception as exc:  # the store or the server is down: next round
                    log.warning("ingest_partitions_round_failed", error=repr(exc))
                await self._sleep(self.lease_ttl_ms / 3000)
        finally:
            await asyncio.gather(*running.values(), return_exceptions=True)
            for name, token in list(self.partitions_held.items()):
                with contextlib.suppress(Exception):
                    await self._db(leases.release, self.store.engine, name, self.worker_id, token)

    async def _claim_partitions(
        self, names: list[str], running: dict[str, asyncio.Task[None]]
    ) -> None:
        """Renew, take up to this worker's fair share, hand back the excess."""
        engine, ttl = self.store.engine, self.lease_ttl_ms
        share = await self._db(
            leases.fair_share, engine, "ingest", self.worker_id, len(names), ttl, leases.now_ms()
        )
        while len(self.partitions_held) > share:
            name, held = self.partitions_held.popitem()
            await self._db(leases.release, engine, name, self.worker_id, held)
        for name in names:
            if name not in self.partitions_held and len(self.partitions_held) >= share:
                continue
            token = await self._db(
                leases.acquire, engine, name, self.worker_id, ttl, leases.now_ms()
            )
            if token is None:
                self.partitions_held.pop(name, None)
            elif self.partitions_held.get(name) != token:
                log.info("ingest_partition_taken", partition=name, token=token)
                self.partitions_held[name] = token
            task = running.get(name)
            if name in self.partitions_held and (task is None or task.done()):
                running[name] = asyncio.create_task(self._ingest_loop(name))

    async def _ingest_loop(self, consumer: str) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        failures = idle = 0
        partitioned = consumer != INGEST_CONSUMER
        while not self._stop.is_set():
            if partitioned and consumer not in self.partitions_held:
                break  # the lease went to another worker
            try:
                if sub is None:
                    await ensure_streams(self.js, self.settings)
                    sub = await self.js.pull_subscribe_bind(consumer=consumer, stream=INGEST_STREAM)
                    self.ready.set()
                msgs = await sub.fetch(self.fetch_batch, timeout=self.fetch_timeout_s)
            except (nats.errors.TimeoutError, TimeoutError):
                idle += 1
                if idle >= self.stall_fetches:
                    idle = 0
                    if await self._stalled(consumer):
                        sub = await self._resubscribe(sub, "nothing arrives but work is pending")
                continue
            except Exception as exc:
                failures += 1
                log.warning("ingest_fetch_failed", error=repr(exc), failures=failures)
                if failures >= 3:
                    sub = await self._resubscribe(sub, f"{failures} fetches failed")
                await self._sleep(min(0.25 * 2**failures, 3.0))
                continue
            failures = idle = 0
            await self._ingest_batch(msgs, consumer)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _ingest_batch(self, msgs: list[Msg], consumer: str = INGEST_CONSUMER) -> None:
        """Process in order; tell the server the waiting ones are in progress meanwhile.

        A fetched batch can take longer than ``ack_wait`` to get through (a busy database);
        without the progress signal the server would redeliver its tail while it waits.
        """
        waiting = list(msgs)

        async def keep_alive() -> None:
            period = max(self.settings.ack_wait_s / 3, 0.2)
            while True:
                await asyncio.sleep(period)
                for msg in list(waiting):
                    with contextlib.suppress(Exception):
                        await msg.in_progress()

        keeper = asyncio.create_task(keep_alive())
        try:
            while waiting:
                if not await self._ingest(waiting[0], consumer):
                    return  # lease lost: the new owner gets them redelivered
                waiting.pop(0)
        finally:
            keeper.cancel()

    async def _floor_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self._ingest_floor = await self._read_floor()
            await self._sleep(0.5)

    async def _read_floor(self) -> int:
        if self.settings.ingest_partitions <= 1:
            info = await self.js.consumer_info(INGEST_STREAM, INGEST_CONSUMER, timeout=5)
            return int(info.ack_floor.stream_seq) if info.ack_floor else 0
        last = int((await self.js.stream_info(INGEST_STREAM)).state.last_seq)
        infos = []
        for name, _ in ingest_consumers(self.settings):
            info = await self.js.consumer_info(INGEST_STREAM, name, timeout=5)
            ack = int(info.ack_floor.stream_seq) if info.ack_floor else 0
            infos.append((ack, int(info.num_pending or 0), int(info.num_ack_pending or 0)))
        return floor_of(last, infos)

    async def _stalled(self, consumer: str = INGEST_CONSUMER) -> bool:
        try:
            info = await self.js.consumer_info(INGEST_STREAM, consumer, timeout=5)
        except NotFoundError:
            return True  # the server lost the consumer (wiped store): make it again
        except Exception as exc:
            log.debug("consumer_info_failed", error=repr(exc))
            return False
        return int(info.num_pending or 0) > 0

    async def _resubscribe(
        self, sub: JetStreamContext.PullSubscription | None, why: str
    ) -> JetStreamContext.PullSubscription | None:
        self.stats.resubscribed += 1
        log.warning("ingest_resubscribing", reason=why)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return None

    async def _ingest(self, msg: Msg, consumer: str = INGEST_CONSUMER) -> bool:
        """Process and ack one upload; ``False`` if the partition's lease was lost first."""
        fence = None
        if consumer != INGEST_CONSUMER:
            token = self.partitions_held.get(consumer)
            if token is None:
                return False

            def fence(conn: Any, token: int = token) -> None:
                leases.fence(
                    conn, consumer, self.worker_id, token, self.lease_ttl_ms, leases.now_ms()
                )

        try:
            await self._uploads.handle(msg, fence)
        except leases.LeaseLost:
            self.partitions_held.pop(consumer, None)
            log.warning("ingest_partition_lost", partition=consumer, worker=self.worker_id)
            return False
        return True

    # --- outbox ------------------------------------------------------------------------
    async def _outbox_loop(self) -> None:
        while not self._stop.is_set():
            try:
                items = await self._db(self.store.outbox, self.outbox_batch)
            except Exception as exc:
                log.error("outbox_read_failed", error=repr(exc))
                await self._sleep(1.0)
                continue
            if not items:
                self._outbox_wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outbox_wake.wait(), 0.5)
                continue
            done = await self.publish_items(items)
            if done:
                try:
                    await self._db(self.store.mark_published, done)
                except Exception as exc:
                    log.error("outbox_mark_failed", error=repr(exc))
            if len(done) < len(items):
                await self._sleep(0.5)

    async def publish_items(self, items: list[OutboxItem]) -> list[int]:
        done = await publish_items(self.js, items, self.publish_timeout_s)
        self.stats.published += len(done)
        return done

    # --- gaps --------------------------------------------------------------------------
    async def _gap_loop(self) -> None:
        period = max(0.5, min(self.gap_timeout_s / 4, 30.0))
        while not self._stop.is_set():
            await self._sleep(period)
            try:
                n = await self._db(
                    self.store.release_expired_gaps, self.clock(), int(self.gap_timeout_s * 1000)
                )
            except Exception as exc:
                log.error("gap_release_failed", error=repr(exc))
                continue
            if n:
                self.stats.released += n
                log.warning("gap_timed_out", released=n)
                self._outbox_wake.set()


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)
