"""The central ingest service: JetStream in, the central store as the record, JetStream out.

Four concurrent loops on one NATS connection (reconnecting forever):

- **ingest**: fetch from the durable pull consumer ``ingest``; for each message
  ``store.process_upload`` (one database transaction) and only *then* ack. A crash between
  commit and ack redelivers the message, and ``(device_id, seq)`` makes it a duplicate with
  no effect. A message the store cannot take (database down) is not acked (nak with a delay)
  and comes back; a poison message is quarantined by the store, so it is acked like any
  other. The loop is supervised: pull subscriptions can stall after a server restart, so when
  fetches keep failing, or nothing arrives while the consumer reports pending messages, the
  subscription (and, if the server lost them, the streams) is made again.
- **hello**: answer ``kop.hello.*.*`` (queue group ``central``) from the store, adding
  ``ingest_seq``: the KOP_INGEST stream sequence up to which every upload has been processed
  and acked (the consumer's ack floor, which also jumps over a purge). A device whose batch
  sits at or below it and is still not committed knows the message is lost and re-sends it
  at once; above it, the central is only busy and the device waits.
- **outbox**: publish what the store committed to ``KOP_EVENTS``, ``KOP_DOWN`` and
  ``KOP_QUARANTINE`` with ``Nats-Msg-Id``, then mark it published. A crash in between
  re-publishes; JetStream's window and the consumers' ``(device_id, seq)`` absorb it.
- **gaps**: apply events held behind a gap older than the gap timeout, flagged ``GAP``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from central_projector.ingest.outbox import publish_items
from central_projector.ingest.partitions import device_subject, floor_of
from central_projector.ingest.streams import (
    INGEST,
    INGEST_CONSUMER,
    StreamSettings,
    ensure_streams,
    ingest_consumers,
)
from central_projector.record import leases
from central_projector.record.store import CentralStore, OutboxItem
from sync_core import codec, subjects
from sync_core.errors import KopsyncError
from sync_core.hlc import Hlc
from sync_core.ids import check_coop_id, check_device_id
from sync_core.transport.options import TlsFiles, connect_options, tls_kwargs
from sync_core.transport.stopping import sleep_unless_stopped, until_stopped

T = TypeVar("T")

log = structlog.get_logger("kopsync.central")

# A message the store keeps failing on with database errors is set aside after this many
# deliveries (one that fails for any other reason at once): bounded, and at nak's 2 s delay
# a database blip of a few seconds still lets it through.
MAX_DELIVERIES = 5


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class ServiceStats:
    """Counters for logs and tests."""

    messages: int = 0
    committed: int = 0
    duplicates: int = 0
    held: int = 0
    quarantined: int = 0
    ingest_errors: int = 0
    acked: int = 0
    hellos: int = 0
    published: int = 0
    resubscribed: int = 0
    released: int = 0
    quarantined_by: dict[str, int] = field(default_factory=dict)  # reason -> messages
    upload_lag_ms: int = 0  # the last upload's wait in KOP_INGEST before its commit


class CentralService:
    """Runs the four loops until :meth:`stop`."""

    def __init__(
        self,
        store: CentralStore,
        nats_url: str,
        *,
        gap_timeout_s: float = 300.0,
        fetch_batch: int = 64,
        fetch_timeout_s: float = 2.0,
        stall_fetches: int = 3,
        publish_timeout_s: float = 10.0,
        outbox_batch: int = 500,
        hello_concurrency: int = 8,
        settings: StreamSettings | None = None,
        credentials: str | None = None,
        nkey: str | None = None,
        tls: TlsFiles | None = None,
        clock: Callable[[], int] = wall_ms,
        worker_id: str = "ingest",
        lease_ttl_s: float = 10.0,
    ) -> None:
        self.store = store
        self.nats_url = nats_url
        self.gap_timeout_s = gap_timeout_s
        self.fetch_batch = fetch_batch
        self.fetch_timeout_s = fetch_timeout_s
        self.stall_fetches = stall_fetches
        self.publish_timeout_s = publish_timeout_s
        self.outbox_batch = outbox_batch
        self.settings = settings or StreamSettings.from_env()
        self.credentials = credentials
        self.nkey = nkey  # the central's nkey seed file; None: $KOPSYNC_NATS_NKEY, else none
        self.tls = tls  # the CA (and client certificate) for tls:// URLs
        self.clock = clock
        self.stats = ServiceStats()
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._nc = Client()
        self._js: JetStreamContext | None = None
        self._ingest_floor: int | None = None
        self._hello_slots = asyncio.Semaphore(hello_concurrency)
        # SQLite has one writer and its busy handler is not fair: an ingest thread that begins
        # its next transaction right after a commit can starve a hello for many seconds. A
        # FIFO asyncio lock gives them turns. PostgreSQL needs no such thing.
        self._turn: asyncio.Lock | None = (
            asyncio.Lock() if store.engine.dialect.name == "sqlite" else None
        )
        self._hello_tasks: set[asyncio.Task[None]] = set()
        # Partitioned ingest (settings.ingest_partitions > 1): consumer -> fencing token
        self.worker_id = worker_id
        self.lease_ttl_ms = int(lease_ttl_s * 1000)
        self.partitions_held: dict[str, int] = {}

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
        if self._js is None:
            self._js = self._nc.jetstream()
        return self._js

    # --- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (waiting for the server as long as it takes), then serve until stopped."""
        if not await self._until_stopped(self._connect()):
            return
        try:
            hello_sub = await self._nc.subscribe(
                subjects.hello_wildcard(), queue="central", cb=self._on_hello
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
                for task in list(self._hello_tasks):
                    task.cancel()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 5)
            log.info("central_stopped", **_stats(self.stats))

    async def _connect(self) -> None:
        options: dict[str, Any] = {
            "servers": self.nats_url.split(","),  # a cluster: any of its nodes
            "name": "kopsync-central",
            "max_reconnect_attempts": -1,  # nats-py's default closes the client after 60
            "reconnect_time_wait": 0.5,
            "ping_interval": 10,
            "max_outstanding_pings": 3,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "error_cb": self._on_error,
            "closed_cb": self._on_closed,
        }
        if self.credentials:
            options["user_credentials"] = self.credentials
        # The central keeps nats-py's default _INBOX prefix, which only its permissions allow.
        options.update(connect_options(self.nkey, None))
        options.update(tls_kwargs(self.nats_url.split(","), self.tls))
        log.info("connecting", nats=self.nats_url)
        await self._nc.connect(**options)
        log.info("connected", nats=self.nats_url, max_payload=self._nc.max_payload)

    async def _until_stopped(self, aw: Awaitable[None]) -> bool:
        """Await ``aw`` unless :meth:`stop` comes first; ``True`` if it finished."""
        return await until_stopped(self._stop, aw)

    async def _sleep(self, seconds: float) -> None:
        await sleep_unless_stopped(self._stop, seconds)

    # --- ingest ------------------------------------------------------------------------
    async def _ingest_loops(self) -> None:
        """One consumer; or, partitioned, one loop per partition whose lease this worker holds."""
        if self.settings.ingest_partitions <= 1:
            await self._ingest_loop(INGEST_CONSUMER)
            return
        await self._db(leases.create, self.store.engine)
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
                    sub = await self.js.pull_subscribe_bind(consumer=consumer, stream=INGEST)
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
            info = await self.js.consumer_info(INGEST, INGEST_CONSUMER, timeout=5)
            return int(info.ack_floor.stream_seq) if info.ack_floor else 0
        last = int((await self.js.stream_info(INGEST)).state.last_seq)
        infos = []
        for name, _ in ingest_consumers(self.settings):
            info = await self.js.consumer_info(INGEST, name, timeout=5)
            ack = int(info.ack_floor.stream_seq) if info.ack_floor else 0
            infos.append((ack, int(info.num_pending or 0), int(info.num_ack_pending or 0)))
        return floor_of(last, infos)

    async def _stalled(self, consumer: str = INGEST_CONSUMER) -> bool:
        try:
            info = await self.js.consumer_info(INGEST, consumer, timeout=5)
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
        subject = device_subject(msg.subject)
        coop_id, device_id = _subject_ids(subject)
        self.stats.messages += 1
        fence = None
        if consumer != INGEST_CONSUMER:
            token = self.partitions_held.get(consumer)
            if token is None:
                return False

            def fence(conn: Any, token: int = token) -> None:
                leases.fence(
                    conn, consumer, self.worker_id, token, self.lease_ttl_ms, leases.now_ms()
                )

        # Unpartitioned, the store is called as before (stores that wrap it need no fence).
        extra: tuple[Callable[[Any], None], ...] = () if fence is None else (fence,)
        try:
            result = await self._db(
                self.store.process_upload, subject, msg.data, self.clock(), *extra
            )
        except leases.LeaseLost:
            self.partitions_held.pop(consumer, None)
            log.warning("ingest_partition_lost", partition=consumer, worker=self.worker_id)
            return False
        except Exception as exc:
            self.stats.ingest_errors += 1
            log.error(
                "ingest_failed",
                coop_id=coop_id,
                device_id=device_id,
                seq=None,
                subject=msg.subject,
                error=repr(exc),
            )
            if not await self._set_aside(msg, subject, exc, extra):
                # Not acked: the message comes back (sooner than ack_wait, thanks to the delay).
                with contextlib.suppress(Exception):
                    await msg.nak(delay=2)
            return True
        st = self.stats
        st.committed += result.committed
        st.duplicates += result.duplicates
        st.held += result.held
        st.quarantined += len(result.quarantined)
        log.info(
            "ingested",
            coop_id=coop_id,
            device_id=result.device_id or device_id,
            seq=result.committed_seq,
            committed=result.committed,
            duplicates=result.duplicates,
            held=result.held,
            quarantined=len(result.quarantined),
        )
        with contextlib.suppress(Exception):  # a message without JetStream metadata (tests)
            stored = msg.metadata.timestamp.timestamp()
            st.upload_lag_ms = max(0, self.clock() - int(stored * 1000))
        for reason, detail in result.quarantined:
            st.quarantined_by[reason] = st.quarantined_by.get(reason, 0) + 1
            log.warning(
                "quarantined",
                coop_id=coop_id,
                device_id=result.device_id or device_id,
                seq=None,
                reason=reason,
                detail=detail,
                subject=msg.subject,
            )
        try:
            await msg.ack()
            st.acked += 1
        except Exception as exc:
            # Committed already: the redelivery will be a duplicate with no effect.
            log.warning("ack_failed", coop_id=coop_id, device_id=device_id, error=repr(exc))
        self._outbox_wake.set()
        return True

    async def _set_aside(
        self, msg: Msg, subject: str, exc: Exception, extra: tuple[Callable[[Any], None], ...]
    ) -> bool:
        """Quarantine a failing message as ``unprocessable`` and ack it, when retrying cannot
        help: the failure is not the database's, or it failed :data:`MAX_DELIVERIES` times.
        ``False`` when it must come back (the database is down, or refused the quarantine too):
        without this a message ingest cannot take would come back forever and, a thousand of
        them, fill the consumer's ``max_ack_pending`` so that no device's upload gets through.
        """
        delivered = _delivered(msg)
        if self.store.unavailable(exc) and delivered < MAX_DELIVERIES:
            return False
        detail = f"ingest failed on delivery {delivered}: {exc!r}"[:500]
        try:
            await self._db(
                self.store.quarantine_unprocessable, subject, msg.data, detail, self.clock(), *extra
            )
        except Exception as again:
            log.error("quarantine_failed", subject=msg.subject, error=repr(again))
            return False
        st = self.stats
        st.quarantined += 1
        st.quarantined_by["unprocessable"] = st.quarantined_by.get("unprocessable", 0) + 1
        log.warning("quarantined", subject=msg.subject, reason="unprocessable", detail=detail)
        with contextlib.suppress(Exception):
            await msg.ack()
            st.acked += 1
        self._outbox_wake.set()
        return True

    # --- hello -------------------------------------------------------------------------
    async def _on_hello(self, msg: Msg) -> None:
        # nats-py runs a subscription's callbacks one at a time: answer in tasks, so one hello
        # waiting for the database does not hold up the others (bounded by _hello_slots).
        await self._hello_slots.acquire()
        task = asyncio.create_task(self._answer_hello(msg))
        self._hello_tasks.add(task)
        task.add_done_callback(self._hello_done)

    def _hello_done(self, task: asyncio.Task[None]) -> None:
        self._hello_tasks.discard(task)
        self._hello_slots.release()

    async def _answer_hello(self, msg: Msg) -> None:
        self.stats.hellos += 1
        reply: dict[str, Any] = {"v": 1, "error": "the central could not answer; try again"}
        for attempt in range(3):
            try:
                reply = await self._hello_reply(msg)
                break
            except (KopsyncError, ValueError, IndexError) as exc:  # the request is wrong
                reply = {"v": 1, "error": str(exc)}
                break
            except Exception as exc:  # the database: a conflict or a blip, worth a retry
                log.error("hello_failed", subject=msg.subject, error=repr(exc), attempt=attempt)
                await asyncio.sleep(0.05 * (attempt + 1))
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(codec.encode(reply))

    async def _hello_reply(self, msg: Msg) -> dict[str, Any]:
        parts = msg.subject.split(".")
        coop_id, device_id = check_coop_id(parts[2]), check_device_id(parts[3])
        request = codec.decode(msg.data)
        if not isinstance(request, dict) or request.get("v") != 1:
            raise ValueError("a hello request is a msgpack map with v=1")
        if (request.get("coop_id"), request.get("device_id")) != (coop_id, device_id):
            raise ValueError("the hello names another device than its subject")
        head = request.get("head_seq")
        if not isinstance(head, int) or isinstance(head, bool) or head < 0:
            raise ValueError("head_seq must be a non-negative integer")
        clock = Hlc.from_wire(request.get("hlc")).to_wire()
        # Read before the store: everything up to this floor was committed before the store
        # answers, never the other way round.
        floor = self._ingest_floor
        reply = await self._db(self.store.hello, coop_id, device_id, head, clock, self.clock())
        if floor is not None:
            reply["ingest_seq"] = floor
        return reply

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

    # --- connection events -------------------------------------------------------------
    async def _on_disconnected(self) -> None:
        if self._stop.is_set():
            return
        log.warning("nats_connection_lost", nats=self.nats_url)

    async def _on_reconnected(self) -> None:
        log.info("nats_connection_restored", nats=self.nats_url)

    async def _on_closed(self) -> None:
        log.info("nats_connection_closed", nats=self.nats_url)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats_client_error", error=repr(exc))


def _delivered(msg: Msg) -> int:
    """How many times JetStream has delivered ``msg`` (1 for a message without metadata)."""
    try:
        return int(msg.metadata.num_delivered or 1)
    except Exception:  # a plain NATS message (tests): a first delivery
        return 1


def _subject_ids(subject: str) -> tuple[str | None, str | None]:
    parts = subject.split(".")
    return (parts[2], parts[3]) if len(parts) == 4 else (None, None)


def _stats(stats: ServiceStats) -> dict[str, int]:
    return {k: getattr(stats, k) for k in stats.__slots__}


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)
