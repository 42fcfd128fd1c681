"""Waiting that a service's stop event cuts short (shared by the long-running services),
and giving up on a task without hanging on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

CANCEL_TRIES = 3
CANCEL_WAIT_S = 1.0


async def until_stopped(stop: asyncio.Event, aw: Awaitable[None]) -> bool:
    """Await ``aw`` unless ``stop`` is set first; ``True`` if it finished."""
    task = asyncio.ensure_future(aw)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        await abandon(task)
        return False
    task.result()
    return True


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def abandon(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait a bounded time for it to end; its outcome is dropped.

    Awaiting a cancelled task without a bound can hang: on Python 3.11 a cancel that lands
    just as an inner ``wait_for`` completes is swallowed (nats-py's connect then goes on
    retrying), so Ctrl-C during a connect never returned. Cancelling again a few times ends
    it; a task that still runs after that is left behind, and the caller closes what it
    holds.
    """
    for _ in range(CANCEL_TRIES):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: whoever abandons it reports the failure its own way
