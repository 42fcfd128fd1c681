"""Publishing the central store's outbox to JetStream (events, downlink, quarantine).

The store writes an outbox row in the same transaction as what it records; publishing is
at-least-once: a crash between publish and ``mark_published`` publishes again, and the
``Nats-Msg-Id`` of each row (plus the consumers' own idempotency) absorbs it.
"""

from __future__ import annotations

import asyncio

import structlog
from nats.js import JetStreamContext

from central_projector.record.store import CentralStore, OutboxItem
from sync_core.errors import SyncError
from sync_core.transport import ConnectOptions, connected

log = structlog.get_logger("kopsync.central.outbox")


async def publish_items(
    js: JetStreamContext, items: list[OutboxItem], timeout_s: float, in_flight: int = 64
) -> list[int]:
    """Publish outbox items pipelined; return the ids of the acknowledged prefix.

    Only the prefix counts as done, so a failed item is published again together with those
    after it (de-duplicated by their ``Nats-Msg-Id``) and the stream keeps the outbox order
    as far as it can. Consumers order by content, never by stream position.
    """
    slots = asyncio.Semaphore(in_flight)

    async def one(item: OutboxItem) -> None:
        async with slots:
            headers = {**item.headers, "Nats-Msg-Id": item.msg_id}
            await asyncio.wait_for(
                js.publish(item.subject, item.data, timeout=timeout_s, headers=headers),
                timeout_s + 1,
            )

    results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    done: list[int] = []
    for item, result in zip(items, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("publish_failed", subject=item.subject, error=repr(result))
            break
        done.append(item.id)
    return done


async def flush_outbox(
    store: CentralStore, connection: ConnectOptions, *, timeout_s: float = 10
) -> int:
    """Publish everything in the outbox now (``kopsync central issue --nats``); return count."""
    # The central's nkey and nats-py's default _INBOX prefix, which only its permissions allow.
    total = 0
    async with connected(connection.but(inbox_prefix=None), timeout_s, log=log) as link:
        while items := await asyncio.to_thread(store.outbox, 500):
            done = await publish_items(link.js, items, timeout_s)
            await asyncio.to_thread(store.mark_published, done)
            total += len(done)
            if len(done) < len(items):
                raise SyncError(
                    f"published {total} outbox messages, then JetStream refused one; the running "
                    "`kopsync central ingest` publishes the rest"
                )
    return total
