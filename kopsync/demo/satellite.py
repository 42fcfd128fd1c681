"""The satellite between a cooperative's hub and the province: a link emulator that the demo
cuts for a round. It runs on an event loop of its own in a thread, so that it keeps carrying
the hub's leaf connection between the demo's steps (each its own ``asyncio.run``)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from edge_agent.devtools.linkemu import LinkEmulator


class Satellite:
    """A :class:`LinkEmulator` in front of ``host:port``, on a thread; ``cut``/``restore``."""

    def __init__(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.link = LinkEmulator(host, port)
        self._call(self.link.start())

    @property
    def port(self) -> int:
        return self.link.port

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self.link.cut)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(self.link.restore)

    def close(self) -> None:
        if not self._loop.is_running():
            return
        self._call(self.link.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _call(self, coro: Any) -> Any:
        done: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return done.result(30)
