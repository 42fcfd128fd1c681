"""Waiting that a service's stop event cuts short (shared by the long-running services)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable


async def until_stopped(stop: asyncio.Event, aw: Awaitable[None]) -> bool:
    """Await ``aw`` unless ``stop`` is set first; ``True`` if it finished."""
    task = asyncio.ensure_future(aw)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return False
    task.result()
    return True


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
