"""The partner fan-out: KOP_EVENTS in, one pseudonymised stream per partner out.

One durable pull consumer ``partner-{id}`` on KOP_EVENTS per partner, so each partner moves
at its own pace and a partner stream in trouble holds up no other. For every fetched batch the
loop first decides (:func:`~central_projector.partners.routing.route`, pure: in scope? the
pseudonymised view, the subject, ``Nats-Msg-Id: {device_id}:{seq}``), then publishes the
forwards to ``KOP_PARTNER_{ID}`` concurrently, each publish bounded by a timeout, and only then
acks. A message whose publish failed is nak'ed and comes back; a crash between publish and ack
re-publishes it, which the partner stream's de-dup window absorbs (and beyond the window the
partner de-duplicates by ``(device_id, seq)`` like every consumer of kopsync events).

Events out of the partner's scope are acked without a publish. One that cannot be made safe
(undecodable, a schema this process does not know) is never forwarded: it is terminated and
logged as an error. Changing a partner's scope applies from its consumer's position on; to
re-feed a partner from the start, delete its consumer (``partner-{id}`` on KOP_EVENTS).

Supervised like the ingest loop: the connection reconnects forever; a loop whose fetches keep
failing, or that gets nothing while its consumer reports pending messages, makes its
subscription (and stream and consumer) again; a loop that crashes is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from central_projector.ingest.streams import DAY_S
from central_projector.partners.config import Partner, PartnersConfig
from central_projector.partners.routing import Forward, Skip, Withhold, partner_wildcard, route
from sync_core import subjects
from sync_core.protocol import EVENTS_STREAM
from sync_core.transport import ConnectOptions, Link
from sync_core.transport.stopping import sleep_unless_stopped
from sync_core.transport.streams import put_stream

log = structlog.get_logger("kopsync.partners")


@dataclass(frozen=True, slots=True)
class FanoutSettings:
    """Timings of the fan-out. ``ack_wait_s`` bounds how late an event whose ack or nak was lost
    (a server crash) is delivered again; it must exceed one batch's publish time."""

    fetch_batch: int = 128
    fetch_timeout_s: float = 2.0
    stall_fetches: int = 3
    publish_timeout_s: float = 10.0
    ack_wait_s: float = 30.0
    max_ack_pending: int = 1024
    dedup_window_s: float = 120.0
    replicas: int = 1


@dataclass(slots=True)
class PartnerStats:
    """Counters per partner, for logs and tests."""

    forwarded: int = 0
    skipped: int = 0
    withheld: int = 0
    publish_failed: int = 0
    resubscribed: int = 0


def partner_stream_config(partner: Partner, settings: FanoutSettings) -> StreamConfig:
    return StreamConfig(
        name=partner.stream,
        description=f"kopsync events for partner {partner.id}, personal data pseudonymised",
        subjects=[partner_wildcard(partner.id)],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=partner.retention_days * DAY_S,
        num_replicas=settings.replicas,
        duplicate_window=settings.dedup_window_s,
        compression=StoreCompression.S2,
    )


def partner_consumer_config(partner: Partner, settings: FanoutSettings) -> ConsumerConfig:
    return ConsumerConfig(
        name=partner.consumer,
        durable_name=partner.consumer,
        filter_subject=subjects.canonical_wildcard(),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_deliver=-1,  # a publish that fails must come back until it succeeds
        max_ack_pending=settings.max_ack_pending,
    )


class FanoutService:
    """Feeds every configured partner's stream until :meth:`stop`."""

    def __init__(
        self,
        config: PartnersConfig,
        connection: ConnectOptions,
        *,
        settings: FanoutSettings | None = None,
    ) -> None:
        self.config = config
        # The fan-out runs as the central (its nkey, nats-py's default _INBOX prefix).
        self.link = Link(connection, log=log)
        self.settings = settings or FanoutSettings()
        self.stats = {p.id: PartnerStats() for p in config.partners}
        self.ready = asyncio.Event()  # every partner loop has subscribed once
        self._subscribed: set[str] = set()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def js(self) -> JetStreamContext:
        return self.link.js

    # --- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (waiting for the server as long as it takes), then fan out until stopped."""
        if not await self.link.open_until_stopped(self._stop):
            return
        tasks = [asyncio.create_task(self._supervise(p)) for p in self.config.partners]
        log.info(
            "fanout_started", nats=self.link.url, partners=[p.id for p in self.config.partners]
        )
        try:
            await self._stop.wait()
        finally:
            _, pending = await asyncio.wait(
                tasks, timeout=self.settings.fetch_timeout_s + self.settings.publish_timeout_s + 5
            )
            for task in pending:
                task.cancel()
            await self.link.close()
            log.info("fanout_stopped", **{p: _counts(s) for p, s in self.stats.items()})

    async def _sleep(self, seconds: float) -> None:
        await sleep_unless_stopped(self._stop, seconds)

    # --- one partner -------------------------------------------------------------------
    async def _supervise(self, partner: Partner) -> None:
        while not self._stop.is_set():
            try:
                await self._partner_loop(partner)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("partner_loop_crashed", partner=partner.id, error=repr(exc))
                await self._sleep(1.0)

    async def _partner_loop(self, partner: Partner) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        failures = idle = 0
        waiting_logged = False
        s = self.settings
        while not self._stop.is_set():
            try:
                if sub is None:
                    sub = await self._subscribe(partner)
                    waiting_logged = False
                msgs = await sub.fetch(s.fetch_batch, timeout=s.fetch_timeout_s)
            except (nats.errors.TimeoutError, TimeoutError):
                idle += 1
                if idle >= s.stall_fetches:
                    idle = 0
                    if await self._stalled(partner):
                        await self._resubscribe(partner, sub, "nothing arrives, work is pending")
                        sub = None
                continue
            except NotFoundError as exc:
                # KOP_EVENTS is made by `kopsync central ingest`; wait for it, quietly.
                if not waiting_logged:
                    log.warning("waiting_for_events_stream", partner=partner.id, error=repr(exc))
                    waiting_logged = True
                sub = None
                await self._sleep(1.0)
                continue
            except Exception as exc:
                failures += 1
                log.warning("partner_fetch_failed", partner=partner.id, error=repr(exc))
                if failures >= 3:
                    await self._resubscribe(partner, sub, f"{failures} fetches failed")
                    sub = None
                await self._sleep(min(0.25 * 2**failures, 3.0))
                continue
            failures = idle = 0
            if await self.handle_batch(partner, msgs):
                # The partner stream may be gone (deleted, a wiped server): make it again.
                await self._resubscribe(partner, sub, "publishes to the partner stream failed")
                sub = None
                await self._sleep(0.5)

    async def _subscribe(self, partner: Partner) -> JetStreamContext.PullSubscription:
        config = partner_stream_config(partner, self.settings)
        if (why := await put_stream(self.js, config)) is not None:
            log.info("updated_partner_stream", stream=config.name, reason=why)
        await self.js.add_consumer(EVENTS_STREAM, partner_consumer_config(partner, self.settings))
        sub = await self.js.pull_subscribe_bind(consumer=partner.consumer, stream=EVENTS_STREAM)
        self._subscribed.add(partner.id)
        if len(self._subscribed) == len(self.config.partners):
            self.ready.set()
        log.info("partner_subscribed", partner=partner.id, stream=config.name)
        return sub

    async def _stalled(self, partner: Partner) -> bool:
        try:
            info = await self.js.consumer_info(EVENTS_STREAM, partner.consumer, timeout=5)
        except NotFoundError:
            return True  # the server lost the consumer: make it again
        except Exception as exc:
            log.debug("consumer_info_failed", partner=partner.id, error=repr(exc))
            return False
        return int(info.num_pending or 0) > 0

    async def _resubscribe(
        self, partner: Partner, sub: JetStreamContext.PullSubscription | None, why: str
    ) -> None:
        self.stats[partner.id].resubscribed += 1
        log.warning("partner_resubscribing", partner=partner.id, reason=why)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle_batch(self, partner: Partner, msgs: Sequence[Msg]) -> int:
        """Decide for each message, publish the forwards, then ack (or nak what failed).

        Returns how many publishes failed.
        """
        st = self.stats[partner.id]
        decisions = [route(partner, m.data, m.headers) for m in msgs]
        forwards = [d for d in decisions if isinstance(d, Forward)]
        outcome = dict(
            zip(
                (id(d) for d in forwards),
                await publish_all(self.link, forwards, self.settings.publish_timeout_s),
                strict=True,
            )
        )
        for msg, decision in zip(msgs, decisions, strict=True):
            if isinstance(decision, Skip):
                st.skipped += 1
                await _settle(msg.ack())
            elif isinstance(decision, Withhold):
                st.withheld += 1
                log.error(
                    "event_withheld",
                    partner=partner.id,
                    subject=msg.subject,
                    reason=decision.reason,
                    detail=decision.detail,
                )
                await _settle(msg.term())
            elif (error := outcome[id(decision)]) is None:
                st.forwarded += 1
                await _settle(msg.ack())
            else:
                st.publish_failed += 1
                device_id, _, seq = decision.msg_id.rpartition(":")
                log.warning(
                    "partner_publish_failed",
                    partner=partner.id,
                    subject=decision.subject,
                    device_id=device_id,
                    seq=int(seq),
                    error=repr(error),
                )
                await _settle(msg.nak(delay=1))
        failed = sum(1 for error in outcome.values() if error is not None)
        log.debug("partner_batch", partner=partner.id, forwarded=len(forwards), failed=failed)
        return failed


async def publish_all(
    link: Link, forwards: Sequence[Forward], timeout_s: float
) -> list[BaseException | None]:
    """Publish concurrently, each bounded by ``timeout_s``; ``None`` for each acknowledged one."""

    async def one(f: Forward) -> None:
        await link.publish(f.subject, f.data, timeout_s, f"publish to {f.subject}", f.headers)

    results = await asyncio.gather(*(one(f) for f in forwards), return_exceptions=True)
    return [r if isinstance(r, BaseException) else None for r in results]


async def _settle(aw: Awaitable[None]) -> None:
    # An ack lost with the connection only means a redelivery, de-duplicated downstream.
    with contextlib.suppress(Exception):
        await aw


def _counts(stats: PartnerStats) -> dict[str, int]:
    return {k: getattr(stats, k) for k in stats.__slots__}
