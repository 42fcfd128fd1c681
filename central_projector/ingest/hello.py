"""Answering hellos (``kop.hello.{coop}.{device}``, docs/PROTOCOL.md) from the central store.

The request is decoded and range-checked by :class:`sync_core.protocol.HelloRequest`; a
request that is wrong (not msgpack, another device than its subject, an integer beyond 64
bits) is answered with a :class:`~sync_core.protocol.HelloRefusal` saying so. The reply adds
``ingest_seq``: the KOP_INGEST stream sequence up to which every upload has been processed
and acked (read *before* the store answers, so that everything up to it was committed
before the answer, never the other way round).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import structlog
from nats.aio.msg import Msg

from central_projector.ingest.stats import ServiceStats
from central_projector.record.store import CentralStore
from sync_core import subjects
from sync_core.errors import DecodeError, KopsyncError
from sync_core.protocol import HelloRefusal, HelloReply, HelloRequest

log = structlog.get_logger("kopsync.central")

Db = Callable[..., Awaitable[Any]]


class HelloDesk:
    """Answers hellos in tasks, at most ``concurrency`` at once.

    nats-py runs a subscription's callbacks one at a time: answering in tasks keeps one hello
    that waits for the database from holding up the others.
    """

    def __init__(
        self,
        store: CentralStore,
        db: Db,
        floor: Callable[[], int | None],
        clock: Callable[[], int],
        stats: ServiceStats,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self.db = db
        self.floor = floor
        self.clock = clock
        self.stats = stats
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_hello(self, msg: Msg) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _answer(self, msg: Msg) -> None:
        self.stats.hellos += 1
        reply: HelloReply | HelloRefusal = HelloRefusal("the central could not answer; try again")
        for attempt in range(3):
            try:
                reply = await self.reply(msg.subject, msg.data)
                break
            except KopsyncError as exc:  # the request is wrong
                reply = HelloRefusal(str(exc))
                break
            except Exception as exc:  # the database: a conflict or a blip, worth a retry
                log.error("hello_failed", subject=msg.subject, error=repr(exc), attempt=attempt)
                await asyncio.sleep(0.05 * (attempt + 1))
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(reply.encode())

    async def reply(self, subject: str, data: bytes) -> HelloReply:
        """The answer to one hello request (raises :class:`KopsyncError` for a wrong one)."""
        ids = subjects.parse_hello(subject)
        request = HelloRequest.decode(data)
        if (request.coop_id, request.device_id) != (ids.coop_id, ids.device_id):
            raise DecodeError("the hello names another device than its subject")
        floor = self.floor()
        answer: HelloReply = await self.db(self.store.hello, request, self.clock())
        return answer if floor is None else replace(answer, ingest_seq=floor)
