"""Uploading the log: batches of stored envelope bytes, published pipelined to KOP_INGEST.

Batches are raw stored envelope bytes (never re-encoded) with ``Nats-Msg-Id`` =
``{device}:{first}-{last}``, up to ``max_in_flight`` publishes in flight: over a 600 ms
satellite round trip, waiting for each acknowledgement would move one batch per round trip.
A re-send that JetStream reports as a duplicate (its de-dup window outlives a purge) is
published once more under ``{device}:{first}-{last}:r{ms}``: the central de-duplicates by
``(device_id, seq)``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.sendplan import Placed, Progress, Span, cut
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.app.syncstate import Tally
from sync_core import subjects
from sync_core.batch import batch_msg_id, encode_batch
from sync_core.transport import Link


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive events of the device, encoded for one upload message."""

    first: int
    last: int
    data: bytes


class Uploader:
    """Publishes ranges of the device's log and keeps :class:`Progress` up to date."""

    def __init__(self, agent: EdgeAgent, settings: ReplicatorSettings, progress: Progress) -> None:
        self.agent = agent
        self.settings = settings
        self.progress = progress

    def batches(self, first: int, last: int, first_events: int = 0) -> Iterator[Batch]:
        """``first..last`` in batches; the first one of at most ``first_events`` if given."""
        events = self.agent.store.raw_events(first - 1, last)
        for seqs, items in cut(events, self.settings.batch_events, first_events):
            data = encode_batch(self.agent.coop_id, self.agent.device_id, items)
            yield Batch(seqs[0], seqs[-1], data)

    async def publish_ranges(
        self,
        link: Link,
        ranges: list[Span],
        tally: Tally,
        *,
        resend: bool,
        first_events: int = 0,
        then: Awaitable[list[Span]] | None = None,
    ) -> None:
        """Publish ``ranges`` pipelined, then the ranges ``then`` gives (same pipeline); advance
        ``progress.acked`` over the acknowledged prefix. ``first_events`` caps the first batch."""
        subject = subjects.upload(self.agent.coop_id, self.agent.device_id)
        slots = asyncio.Semaphore(self.settings.max_in_flight)
        failed = asyncio.Event()
        sent: list[tuple[Batch, asyncio.Task[None]]] = []

        async def publish(batch: Batch) -> None:
            try:
                stream_seq = await self.publish(link, subject, batch, resend=resend)
                self.progress.placed.append(Placed(batch.first, batch.last, stream_seq))
            except BaseException:
                failed.set()
                raise
            finally:
                slots.release()

        async def send(ranges: list[Span], first_events: int) -> None:
            for first, last in ranges:
                for batch in self.batches(first, last, first_events):
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
        done: list[Span] = []
        for (batch, _), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                error = error or result
                continue
            events = batch.last - batch.first + 1
            tally.batches += 1
            tally.uploaded += events
            tally.bytes_sent += len(batch.data)
            if resend:
                tally.resent += events
            done.append((batch.first, batch.last))
        self.progress.acknowledged(done)
        if error is not None:
            raise error

    async def publish(self, link: Link, subject: str, batch: Batch, *, resend: bool) -> int:
        """Publish one batch; return the stream sequence JetStream stored it at."""
        msg_id = batch_msg_id(self.agent.device_id, batch.first, batch.last)
        while True:
            ack = await link.publish(
                subject,
                batch.data,
                self.settings.ack_timeout_s,
                f"upload of seq {batch.first}-{batch.last}",
                {"Nats-Msg-Id": msg_id},
            )
            if not (resend and ack.duplicate) or ":r" in msg_id:
                return int(ack.seq)
            # JetStream remembers the id from a message the central never got (its de-dup
            # window outlives a purge): publish it under a fresh id.
            msg_id = f"{msg_id}:r{time.time_ns() // 1_000_000}"
