"""Reading a JetStream stream from a saved position: the downlink's and the siblings' way.

The device reads with a short-lived pull consumer of a fixed name (the one its NATS
permissions allow, :mod:`sync_core.protocol`) and no acks: what it keeps is the stream
sequence it applied up to, saved after each batch, so a cut link costs at most a batch read
twice (applying is idempotent on both feeds). A stream that restarted (its last sequence
behind the saved position) is read from its start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy, StreamInfo
from nats.js.errors import APIError, NotFoundError

from sync_core.errors import KopsyncError, SyncError, SyncTimeout
from sync_core.transport.link import Link
from sync_core.transport.stopping import sleep_unless_stopped

FETCH = 256


async def read_feed(
    link: Link,
    js: JetStreamContext,
    stream: str,
    name: str,
    filter_subject: str,
    position: int,
    apply: Callable[[list[Msg]], None],
    save: Callable[[int], None],
    log: Any,
) -> None:
    """Hand every message of ``filter_subject`` after ``position`` to ``apply``, a batch at a
    time; ``save(stream_seq)`` after each. ``js``: the JetStream (domain) that holds
    ``stream``; ``link`` guards each operation."""
    info = await stream_info(link, js, stream)
    if info is None:
        return
    last = int(info.state.last_seq)
    if last < position:
        log.warning("feed_stream_restarted", stream=stream, position=position, last_seq=last)
        position = 0
        save(0)
    if last <= position:
        return
    config = _config(name, filter_subject, position)
    created = await link.guarded(_create(js, stream, config), 10, f"{stream} consumer")
    try:
        remaining = int(created.num_pending or 0)
        if remaining == 0:
            save(last)
            return
        sub = await link.guarded(
            js.pull_subscribe_bind(consumer=name, stream=stream), 10, f"{stream} subscribe"
        )
        try:
            while remaining > 0:
                msgs = await link.guarded(
                    sub.fetch(min(remaining, FETCH), timeout=10), 12, f"{stream} fetch"
                )
                apply(msgs)
                save(int(msgs[-1].metadata.sequence.stream))
                remaining = int(msgs[-1].metadata.num_pending)
        finally:
            with contextlib.suppress(Exception):  # a closed link: the failure above tells
                await sub.unsubscribe()
    finally:
        # Best effort: the server drops it after inactive_threshold anyway.
        if link.up.is_set():
            with contextlib.suppress(KopsyncError, NotFoundError):
                await link.guarded(js.delete_consumer(stream, name), 5, "consumer delete")


async def follow_feed(
    link: Link,
    js: JetStreamContext,
    stream: str,
    name: str,
    filter_subject: str,
    position: Callable[[], int],
    apply: Callable[[list[Msg]], None],
    save: Callable[[int], None],
    stop: asyncio.Event,
    wait_s: float = 2.0,
) -> None:
    """Like :func:`read_feed`, but keep the consumer and hand over each new message as soon
    as the server has it (long-polled fetches), until ``stop`` or the link closes.

    Raises what the link raises (:class:`SyncError`) when it fails; the caller starts again.
    """
    while not stop.is_set() and not link.closed:
        start = position()
        info = await stream_info(link, js, stream)
        if info is None:
            await sleep_unless_stopped(stop, wait_s)
            continue
        if int(info.state.last_seq) < start:  # the stream restarted: read it from its start
            save(0)
            continue
        config = _config(name, filter_subject, start)
        await link.guarded(_create(js, stream, config), 10, f"{stream} consumer")
        sub = await link.guarded(
            js.pull_subscribe_bind(consumer=name, stream=stream), 10, f"{stream} subscribe"
        )
        try:
            while not stop.is_set() and not link.closed:
                try:
                    msgs = await _next(link, sub, stream, wait_s)
                except SyncTimeout:
                    continue  # nothing new yet
                if not msgs:
                    continue
                apply(msgs)
                save(int(msgs[-1].metadata.sequence.stream))
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            if link.up.is_set():
                with contextlib.suppress(KopsyncError, NotFoundError):
                    await link.guarded(js.delete_consumer(stream, name), 5, "consumer delete")


async def stream_info(
    link: Link, js: JetStreamContext, stream: str, timeout_s: float = 10
) -> StreamInfo | None:
    """The stream's info, or ``None`` if the server has no such stream (yet).

    The link turns nats-py's ``NotFoundError`` into a :class:`SyncError` like any refusal;
    its cause tells the two apart.
    """
    try:
        return await link.guarded(js.stream_info(stream), timeout_s, f"{stream} info")
    except SyncError as exc:
        if isinstance(exc.__cause__, NotFoundError):
            return None
        raise


async def _next(
    link: Link, sub: JetStreamContext.PullSubscription, stream: str, wait_s: float
) -> list[Msg]:
    """The next message as soon as the server has it, with those already waiting behind it.

    A long-polled fetch of a whole batch is not used: once its first message has arrived,
    nats-py waits for the rest of the batch until the server ends the pull request, which
    it sometimes does only when the request expires (seen: a sibling event held up to
    ``wait_s`` on the LAN). A fetch of one returns at once; the message tells how many are
    waiting behind it, and a fetch of exactly that many returns when they are all in.
    """
    first = await link.guarded(sub.fetch(1, timeout=wait_s), wait_s + 5, f"{stream} fetch")
    pending = first[-1].metadata.num_pending if first else 0
    if not pending:
        return first
    try:
        rest = sub.fetch(min(pending, FETCH), timeout=wait_s)
        return first + await link.guarded(rest, wait_s + 5, f"{stream} fetch")
    except SyncTimeout:  # they went meanwhile (limits, purge): the first is still good
        return first


def _config(name: str, filter_subject: str, position: int) -> ConsumerConfig:
    return ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=position + 1,
        ack_policy=AckPolicy.NONE,
        filter_subject=filter_subject,
        inactive_threshold=60.0,
        mem_storage=True,
        num_replicas=1,
    )


async def _create(js: JetStreamContext, stream: str, config: ConsumerConfig) -> ConsumerInfo:
    """Create the device's consumer, replacing a leftover of another configuration.

    The name is fixed per device, so a consumer left behind by a cut link (until its
    inactive_threshold) at another start position makes the create fail (the server takes it
    for an update it refuses, e.g. ``start sequence can not be updated``): if a consumer of
    that name exists, delete it and create once more.
    """
    assert config.name is not None
    try:
        return await js.add_consumer(stream, config)
    except APIError as exc:
        try:
            await js.consumer_info(stream, config.name)
        except NotFoundError:
            raise exc from None  # not a name clash
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(stream, config.name)
    return await js.add_consumer(stream, config)
