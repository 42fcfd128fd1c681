"""The edge replicator: upload the device's log, confirm it centrally, apply the downlink.

One sync cycle (docs/PROTOCOL.md):

1. **hello** ``kop.hello.{coop}.{device}``: the central answers with the highest contiguous
   seq it has *committed* (its store, not JetStream, is the record), its clock and its issuer
   key. The device pins the key on first contact (trust on first use) and refuses another
   one later; it advances its HLC past the central's clock; it saves ``confirmed_seq``.
2. **upload** from ``max(committed, acked) + 1`` to the head, where ``acked`` is the highest
   seq JetStream acknowledged in this process: compressed batches of raw stored envelope
   bytes (never re-encoded), ``Nats-Msg-Id`` = ``{device}:{first}-{last}``, up to
   ``max_in_flight`` publishes in flight: over a 600 ms satellite round trip, waiting for
   each acknowledgement would move one batch per round trip. Once a hello in this process has
   shown the pinned central key, a reconnected device does not wait for the hello's answer: it
   publishes a head start of ``head_start_events`` (about one bandwidth-delay product; the
   first batch small, so its acknowledgement comes back soon) past ``acked`` together with the
   hello, then carries on past it. Whatever of it JetStream already held is stored again or
   de-duplicated by JetStream, and the central de-duplicates by ``(device_id, seq)``.
3. **downlink**: an ephemeral pull consumer on ``KOP_DOWN`` filtered on ``kop.down.{coop}``
   from the saved stream position; each envelope is verified against the pinned key before
   ``receive_central`` applies it (idempotently); the position is saved after each fetch.
4. **confirm**: hello again until the central's committed seq reaches what JetStream acked.
   The hello reply's ``ingest_seq`` is the KOP_INGEST stream sequence up to which the
   central has processed (acked) every upload. When it has passed the stream sequence of the
   batch holding ``committed + 1`` and that seq is still not committed, the message is gone
   (lost by JetStream, purged) and the missing ranges are re-sent at once; while it has not, the
   central is merely busy and the device waits instead of flooding it. As a safety net
   (a central without ``ingest_seq``, a server that lost data and re-used sequence numbers),
   a central whose committed seq and ingest position both stand still for ``stall_s`` also
   gets a re-send, and that time doubles after each one. A re-send that JetStream reports
   as a duplicate (its de-dup window outlives a purge) is published once more under
   ``{device}:{first}-{last}:r{ms}``: the central de-duplicates by ``(device_id, seq)``.

The edge never forgets an event, so whatever JetStream loses, the next cycle re-sends.

The long-running ``run`` opens a fresh connection after a drop rather than letting nats-py
reconnect (see :mod:`sync_core.transport.link`); ``sync_once`` keeps nats-py's reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.downlink import pull_downlink
from edge_agent.app.syncstate import SyncReport, Tally, read_sync, update_sync
from sync_core import subjects
from sync_core.batch import MAX_BATCH_BYTES, batch_msg_id, encode_batch
from sync_core.errors import (
    CentralKeyChanged,
    DecodeError,
    IntegrityError,
    LinkDown,
    StoreFull,
    SyncError,
    SyncTimeout,
)
from sync_core.protocol import HelloRefusal, HelloReply, HelloRequest, device_inbox_prefix
from sync_core.transport import ConnectOptions, Link, NoResponders
from sync_core.transport.link import Backoff, wait_any

__all__ = ["CentralKeyChanged", "Replicator", "SyncReport"]

LOGGER = "kopsync.edge.replicator"

# Raw bytes per batch: half the ingest limit leaves room for the msgpack framing.
BATCH_BYTES = MAX_BATCH_BYTES // 2
# While events wait for the central's commit, hello at most this far apart (a few bytes each).
MAX_POLL_S = 2.0
# The first batch of a head start (published before the hello's answer) is small, so that its
# acknowledgement comes back soon after the link does.
HEAD_START_FIRST = 50


@dataclass(frozen=True, slots=True)
class _Batch:
    first: int
    last: int
    data: bytes


@dataclass(frozen=True, slots=True)
class _Placed:
    """Where JetStream stored a batch: its KOP_INGEST stream sequence."""

    first: int
    last: int
    stream_seq: int


class Replicator:
    """Replicates one device over NATS: ``sync_once`` for a one-shot, ``run`` for a service."""

    def __init__(
        self,
        agent: EdgeAgent,
        connection: ConnectOptions,
        *,
        batch_events: int = 500,
        max_in_flight: int = 8,
        ack_timeout_s: float = 10.0,
        hello_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        stall_s: float = 10.0,
        max_stall_s: float = 120.0,
        poll_s: float = 0.2,
        refresh_s: float = 10.0,
        confirm_wait_s: float = 2.0,
        backoff_cap_s: float = 3.0,
        reconnect_wait_s: float = 0.1,
        head_start_events: int = 500,
    ) -> None:
        self.agent = agent
        self.connection = connection
        self.batch_events = batch_events
        self.max_in_flight = max_in_flight
        self.ack_timeout_s = ack_timeout_s
        self.hello_timeout_s = hello_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.stall_s = stall_s
        self.max_stall_s = max_stall_s
        self.poll_s = poll_s
        self.refresh_s = refresh_s
        self.confirm_wait_s = confirm_wait_s
        self.backoff_cap_s = backoff_cap_s
        self.reconnect_wait_s = reconnect_wait_s
        self.head_start_events = head_start_events
        self._acked = 0  # highest seq JetStream acknowledged, contiguously from the start
        self._central_seen = True  # to log the central going away once, not every cycle
        self._trusted = False  # a hello in this process answered with the pinned central key
        self._placed: list[_Placed] = []  # acked batches the central has not committed yet
        self._progress = (-1, 0.0)  # (central committed seq, when it last advanced)
        self._floor: tuple[object, float] = (None, 0.0)  # (central ingest_seq, when it moved)
        self._stall = stall_s
        # A logger per replicator, not one module-level proxy: with structlog's
        # cache_logger_on_first_use a module proxy keeps the processors of whichever
        # configuration was current when it was first bound, for the life of the process.
        self._log = structlog.get_logger(LOGGER).bind(
            coop_id=agent.coop_id, device_id=agent.device_id
        )

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
        link = self._link()
        await link.open(min(timeout_s, self.connect_timeout_s))
        try:
            while True:
                try:
                    await self._cycle(link, tally, confirm_until=deadline)
                    break
                except SyncError as exc:  # transport trouble or a central that said "later"
                    left = deadline - loop.time()
                    self._log.warning("sync_interrupted", error=str(exc), seconds_left=left)
                    if left <= 0 or not await link.wait_up(left):
                        raise SyncTimeout(
                            f"sync did not finish within {timeout_s:g} s ({exc}); "
                            "nothing is lost, the next sync carries on"
                        ) from exc
                    pause = self.poll_s if isinstance(exc, LinkDown) else 5 * self.poll_s
                    await asyncio.sleep(min(pause, max(deadline - loop.time(), 0)))
        finally:
            await link.close()
        return self._report(tally)

    async def run(self, stop: asyncio.Event) -> None:
        """Replicate until ``stop`` is set: reconnect forever, sync on new events and regularly.

        A dropped connection is not left to nats-py's reconnect: the link closes and a fresh
        one is opened at once (``Link.open`` retries every ``reconnect_wait_s`` for up to
        ``connect_timeout_s``), which is ready sooner over a long round trip. A link that keeps
        failing without getting anything done, and an outage longer than ``connect_timeout_s``,
        wait a jittered backoff (up to ``backoff_cap_s``) before the next try.
        """
        backoff = Backoff(0.2, self.backoff_cap_s)
        while not stop.is_set():
            link = self._link()
            try:
                await link.open(self.connect_timeout_s, allow_reconnect=False)
            except LinkDown as exc:
                self._log.warning("connect_failed", error=str(exc))
                await wait_any(stop, None, backoff.next())
                continue
            try:
                progressed = await self._serve(link, stop, backoff)
            finally:
                await link.close()
            if progressed:
                backoff.reset()
            else:  # connected, then failed before anything was done: do not hammer
                await wait_any(stop, None, backoff.next())

    async def _serve(self, link: Link, stop: asyncio.Event, backoff: Backoff) -> bool:
        """Sync over ``link`` until it closes or ``stop``; whether anything moved forward."""
        loop = asyncio.get_running_loop()
        next_due = 0.0
        poll_gap = self.poll_s
        acked_before, progressed = self._acked, False
        while not stop.is_set() and not link.closed:
            now = loop.time()
            if self.agent.head().seq > self._acked or now >= next_due:
                tally = Tally()
                try:
                    await self._cycle(link, tally, confirm_until=now + self.confirm_wait_s)
                except (LinkDown, SyncTimeout, SyncError) as exc:
                    if isinstance(exc, IntegrityError):
                        raise
                    self._log.warning("sync_failed", error=str(exc))
                    if link.closed or link.down.is_set():
                        # The caller opens a fresh link at once.
                        return progressed or self._acked > acked_before
                    await wait_any(stop, None, backoff.next())
                    continue
                except StoreFull as exc:
                    # The device's disk is full: its log lost nothing (every transaction is
                    # atomic) and space may come back; a service that exited would not notice.
                    self._log.error("store_full", error=str(exc))
                    await wait_any(stop, None, max(backoff.next(), 1.0))
                    continue
                backoff.reset()
                progressed = True
                report = self._report(tally)
                if tally.uploaded or tally.downloaded or tally.refused:
                    self._log.info("synced", **report.to_json())
                if report.complete or (report.central_answered and not report.registered):
                    poll_gap, wait = self.poll_s, self.refresh_s
                else:  # not committed yet, or the central is away: ask again, less often
                    poll_gap = min(poll_gap * 2, MAX_POLL_S)
                    wait = poll_gap
                next_due = loop.time() + wait
            await wait_any(stop, None, self.poll_s)
        return progressed or self._acked > acked_before

    # --- one cycle ---------------------------------------------------------------------
    async def _cycle(self, link: Link, tally: Tally, *, confirm_until: float) -> None:
        hello = asyncio.ensure_future(self._hello(link, tally))
        upload: asyncio.Future[None] | None = None
        plan: asyncio.Future[list[tuple[int, int]]] | None = None
        early = self._head_start()
        if early is not None:
            await asyncio.sleep(0)  # the hello goes out ahead of the batches
            plan = asyncio.get_running_loop().create_future()
            upload = asyncio.ensure_future(
                self._publish_ranges(
                    link, [early], tally, resend=False, first_events=HEAD_START_FIRST, then=plan
                )
            )
        try:
            reply = await hello
        except BaseException:
            if upload is not None:
                upload.cancel()
                with contextlib.suppress(BaseException):
                    await upload
            raise
        committed = self._committed(reply)
        head = self.agent.head().seq
        if head < committed:
            self._log.error(
                "central_ahead_of_device",
                head_seq=head,
                committed_seq=committed,
                detail="the device's log is older than what the central committed "
                "(restored from a backup?)",
            )
        # What the central committed needs no upload, whatever this process sent before.
        self._acked = max(self._acked, committed)
        if upload is not None and plan is not None and early is not None:
            plan.set_result(_without((self._acked + 1, head), early))
            await upload
        elif self._acked < head:
            await self._upload(link, self._acked + 1, head, tally)
        await self._downlink(link, tally)
        if reply is not None and reply.registered:
            await self._confirm(link, tally, reply, confirm_until)

    def _head_start(self) -> tuple[int, int] | None:
        """The range to publish alongside the hello, before its answer: about one
        bandwidth-delay product past what JetStream acknowledged, so a link that just came
        back carries events during the hello's round trip.

        Only once a hello in this process has shown the pinned central key: the first
        contact waits for the hello, which may refuse the central. A head start JetStream
        already stored (its acknowledgement lost with the link) is stored again or
        de-duplicated by JetStream; the central de-duplicates by ``(device_id, seq)``.
        """
        if not self._trusted or self.head_start_events <= 0:
            return None
        head = self.agent.head().seq
        if self._acked >= head:
            return None
        return self._acked + 1, min(head, self._acked + self.head_start_events)

    def _committed(self, reply: HelloReply | None) -> int:
        if reply is not None and reply.registered:
            return reply.committed_seq
        return int(self._sync_meta().get("confirmed_seq", 0))

    async def _hello(self, link: Link, tally: Tally) -> HelloReply | None:
        head = self.agent.head()
        request = HelloRequest(self.agent.coop_id, self.agent.device_id, head.seq, head.hlc)
        subject = subjects.hello(self.agent.coop_id, self.agent.device_id)
        try:
            msg = await link.request(subject, request.encode(), self.hello_timeout_s, "hello")
        except NoResponders:
            if self._central_seen:
                self._log.warning("central_not_answering", detail="uploading without a hello")
            self._central_seen = False
            return None
        self._central_seen = True
        reply = _check_reply(msg.data)
        tally.central_answered = True
        tally.registered = reply.registered
        self._pin_key(reply.central_key, reply.issuer)
        self._trusted = True
        self.agent.observe_clock(reply.hlc)
        changes: dict[str, Any] = {"last_contact": _now_ms()}
        if reply.registered:
            changes["confirmed_seq"] = reply.committed_seq
        else:
            self._log.warning(
                "device_not_registered",
                detail="uploads wait in the central's quarantine until "
                "`kopsync central device add` registers this device",
            )
        self._update_sync_meta(changes)
        return reply

    def _pin_key(self, key: bytes, issuer: str) -> None:
        sync = self._sync_meta()
        pinned = sync.get("central_key")
        if pinned is None:
            self._log.info("central_key_pinned", issuer=issuer, key=key.hex())
            self._update_sync_meta({"central_key": key, "issuer": issuer})
        elif pinned != key or sync.get("issuer", issuer) != issuer:
            raise CentralKeyChanged(
                f"the central presents issuer key {key.hex()[:16]}… ({issuer}) but this device "
                f"pinned {bytes(pinned).hex()[:16]}… ({sync.get('issuer')}) on first contact; "
                "refusing to sync (wrong server, or a re-keyed central: re-pin deliberately)"
            )

    # --- upload ------------------------------------------------------------------------
    def _batches(self, first: int, last: int, first_events: int = 0) -> Iterator[_Batch]:
        """``first..last`` in batches; the first one of at most ``first_events`` if given."""
        seqs: list[int] = []
        items: list[bytes] = []
        size = 0
        limit = min(first_events, self.batch_events) if first_events > 0 else self.batch_events
        for seq, data in self.agent.store.raw_events(first - 1, last):
            if items and (len(items) >= limit or size + len(data) > BATCH_BYTES):
                yield self._encode(seqs, items)
                seqs, items, size = [], [], 0
                limit = self.batch_events
            seqs.append(seq)
            items.append(bytes(data))
            size += len(data)
        if items:
            yield self._encode(seqs, items)

    def _encode(self, seqs: list[int], items: list[bytes]) -> _Batch:
        data = encode_batch(self.agent.coop_id, self.agent.device_id, items)
        return _Batch(seqs[0], seqs[-1], data)

    async def _upload(self, link: Link, first: int, last: int, tally: Tally) -> None:
        """Publish ``first..last`` pipelined; advance ``_acked`` over the acknowledged prefix."""
        await self._publish_ranges(link, [(first, last)], tally, resend=False)

    async def _publish_ranges(
        self,
        link: Link,
        ranges: list[tuple[int, int]],
        tally: Tally,
        *,
        resend: bool,
        first_events: int = 0,
        then: Awaitable[list[tuple[int, int]]] | None = None,
    ) -> None:
        """Publish ``ranges`` pipelined, then the ranges ``then`` gives (same pipeline); advance
        ``_acked`` over the acknowledged prefix. ``first_events`` caps the first batch."""
        subject = subjects.upload(self.agent.coop_id, self.agent.device_id)
        slots = asyncio.Semaphore(self.max_in_flight)
        failed = asyncio.Event()
        sent: list[tuple[_Batch, asyncio.Task[None]]] = []

        async def publish(batch: _Batch) -> None:
            try:
                stream_seq = await self._publish(link, subject, batch, resend=resend)
                self._placed.append(_Placed(batch.first, batch.last, stream_seq))
            except BaseException:
                failed.set()
                raise
            finally:
                slots.release()

        async def send(ranges: list[tuple[int, int]], first_events: int) -> None:
            for first, last in ranges:
                for batch in self._batches(first, last, first_events):
                    first_events = 0
                    await slots.acquire()
                    if failed.is_set():
                        slots.release()
                        return
                    sent.append((batch, asyncio.create_task(publish(batch))))

        try:
            await send(ranges, first_events)
            if then is not None and not failed.is_set():
                await send(await then, 0)
            results = await asyncio.gather(*(t for _, t in sent), return_exceptions=True)
        finally:
            for _, task in sent:
                task.cancel()
        error: BaseException | None = None
        done: list[_Batch] = []
        for (batch, _), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                error = error or result
                continue
            tally.batches += 1
            tally.uploaded += batch.last - batch.first + 1
            tally.bytes_sent += len(batch.data)
            if resend:
                tally.resent += batch.last - batch.first + 1
            done.append(batch)
        # In seq order: a head start and the ranges after it complete in any order.
        for batch in sorted(done, key=lambda b: b.first):
            if batch.first <= self._acked + 1:
                self._acked = max(self._acked, batch.last)
        if error is not None:
            raise error

    async def _publish(self, link: Link, subject: str, batch: _Batch, *, resend: bool) -> int:
        """Publish one batch; return the stream sequence JetStream stored it at."""
        msg_id = batch_msg_id(self.agent.device_id, batch.first, batch.last)
        while True:
            ack = await link.publish(
                subject,
                batch.data,
                self.ack_timeout_s,
                f"upload of seq {batch.first}-{batch.last}",
                {"Nats-Msg-Id": msg_id},
            )
            if not (resend and ack.duplicate) or ":r" in msg_id:
                return int(ack.seq)
            # JetStream remembers the id from a message the central never got (its de-dup
            # window outlives a purge): publish it under a fresh id.
            msg_id = f"{msg_id}:r{time.time_ns() // 1_000_000}"

    # --- confirmation and re-sending ---------------------------------------------------
    async def _confirm(self, link: Link, tally: Tally, reply: HelloReply, until: float) -> None:
        """Ask until the central committed everything JetStream acked; re-send what is lost."""
        loop = asyncio.get_running_loop()
        while True:
            committed = reply.committed_seq
            self._placed = [p for p in self._placed if p.last > committed]
            now = loop.time()
            if committed > self._progress[0]:
                self._progress, self._stall = (committed, now), self.stall_s
            floor = reply.ingest_seq
            if floor != self._floor[0]:
                self._floor = (floor, now)
            # Idle: neither our commits nor the central's ingest position moved. A central
            # that keeps processing other devices' uploads is busy, not losing ours.
            since = max(self._progress[1], self._floor[1])
            if committed >= self._acked:
                return
            lost = self._lost(committed, floor)
            if lost or now - since >= self._stall:
                missing = _missing(committed, self._acked, reply.held)
                self._log.info(
                    "resending",
                    seq=committed + 1,
                    committed_seq=committed,
                    acked_seq=self._acked,
                    ranges=missing,
                    why="lost" if lost else f"no progress for {now - since:.1f} s",
                )
                await self._publish_ranges(link, missing, tally, resend=True)
                self._progress = (committed, loop.time())
                if not lost:
                    self._stall = min(self._stall * 2, self.max_stall_s)
            left = until - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(self.poll_s, left))
            answer = await self._hello(link, tally)
            if answer is None or not answer.registered:
                return
            reply = answer

    def _lost(self, committed: int, ingest_seq: int | None) -> bool:
        """Whether the central processed past the message holding ``committed + 1`` without it."""
        holding = [p for p in self._placed if p.first <= committed + 1 <= p.last]
        if not holding:
            return True  # sent before the central forgot it (a restored central database)
        if ingest_seq is None:
            return False  # an older central: only the stall timer can tell
        # The latest placement counts: a re-send may still be queued behind other uploads.
        return max(p.stream_seq for p in holding) <= ingest_seq

    # --- downlink ----------------------------------------------------------------------
    async def _downlink(self, link: Link, tally: Tally) -> None:
        await pull_downlink(link, self.agent, tally, self._log)

    # --- helpers -----------------------------------------------------------------------
    def _link(self) -> Link:
        options = self.connection.but(
            name=f"kopsync-edge-{self.agent.device_id}",
            # A device's permissions allow replies only under its own prefix.
            inbox_prefix=device_inbox_prefix(self.agent.device_id),
            reconnect_wait_s=self.reconnect_wait_s,
        )
        return Link(options, log=self._log)

    def _sync_meta(self) -> dict[str, Any]:
        return read_sync(self.agent)

    def _update_sync_meta(self, changes: dict[str, Any]) -> None:
        update_sync(self.agent, changes)

    def _report(self, tally: Tally) -> SyncReport:
        return SyncReport(
            uploaded=tally.uploaded,
            batches=tally.batches,
            resent=tally.resent,
            bytes_sent=tally.bytes_sent,
            confirmed_seq=int(self._sync_meta().get("confirmed_seq", 0)),
            head_seq=self.agent.head().seq,
            downloaded=tally.downloaded,
            refused=tally.refused,
            central_answered=tally.central_answered,
            registered=tally.registered,
        )


def _check_reply(data: bytes) -> HelloReply:
    try:
        reply = HelloReply.decode(data)
    except DecodeError as exc:
        raise SyncError(f"the central's hello reply is malformed: {exc}") from exc
    if isinstance(reply, HelloRefusal):
        raise SyncError(f"the central refused the hello: {reply.error}")
    return reply


def _missing(committed: int, upto: int, held: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """The seq ranges in ``committed+1 .. upto`` the central does not hold."""
    ranges: list[tuple[int, int]] = []
    nxt = committed + 1
    for pair in sorted(held):
        if pair[0] > nxt:
            ranges.append((nxt, min(pair[0] - 1, upto)))
        nxt = max(nxt, pair[1] + 1)
    if nxt <= upto:
        ranges.append((nxt, upto))
    return [(a, b) for a, b in ranges if a <= b]


def _without(span: tuple[int, int], done: tuple[int, int]) -> list[tuple[int, int]]:
    """``span`` minus ``done`` (both inclusive seq ranges)."""
    pieces = [(span[0], min(span[1], done[0] - 1)), (max(span[0], done[1] + 1), span[1])]
    return [(a, b) for a, b in pieces if a <= b]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
