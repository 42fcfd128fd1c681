"""Store calls from the handlers: a lone append on the event loop, a group of appends in a
thread of their own, reads in another.

**A lone append** runs on the event loop itself, as the replicator's own writes (what the
central sent, what it confirmed) already do: a record is a few tenths of a millisecond of
work and one fsync, and handing it to a thread and back cost about as much again (a queue,
waking the thread, waking the loop through its self-pipe). With one till posting, that is
every record.

**Group commit.** An append is not made at once: it waits for the end of the loop's
current pass, so that every request that arrived together, or queued meanwhile, is recorded
in one transaction, each in a savepoint of its own (:meth:`EdgeAgent.group`, up to
:data:`MAX_GROUP`): one fsync for the group, each request answered only once the group is
durable. A request refused by a rule is undone alone and answered with its refusal; if the
commit fails, every request of the group is answered with that failure and none is
recorded. A group goes to the recording thread: while it waits for its fsync (milliseconds
on an SD card), the loop goes on reading and answering the other tills, and what arrives
meanwhile makes the next group, taken as soon as this one is durable. A request whose
client went away is still recorded: it was accepted.

**Reads** (:class:`Workers`) can take longer (a member's statement, a readiness check)
and write nothing: they go to a thread of their own, through a plain queue in and the
loop's ``call_soon_threadsafe`` back (anyio's pool did the same with a capacity limiter,
a cancel scope and an extra pass of the loop). The threads are daemons, started when
calls come and ended after :data:`IDLE_S` without one, so that an app no longer served
keeps no thread, nor its agent, alive.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

T = TypeVar("T")
MAX_GROUP = 32
IDLE_S = 10.0
_Call = tuple[Callable[..., Any], tuple[Any, ...]]
_Outcome = tuple[Any, BaseException | None]


class Appends:
    """Runs the calls given to :meth:`run` at the end of the loop's pass in which they
    came: a lone one on the loop, those of one pass together inside one ``group()`` block
    on the recording thread (calls that come while a group is there wait for it)."""

    def __init__(
        self, group: Callable[[], AbstractContextManager[None]], *, name: str = "kopsync-record"
    ) -> None:
        self._group = group
        self._waiting: list[tuple[asyncio.Future[Any], _Call]] = []
        self._thread = Workers(name=name)
        self._away: asyncio.Future[None] | None = None  # a group on the recording thread

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        self._waiting.append((answer, (func, args)))
        if len(self._waiting) == 1:
            # After the callbacks already due in this pass: the requests that came with
            # this one have each queued their call by then.
            loop.call_soon(self._run_waiting)
        return await answer

    def _run_waiting(self) -> None:
        if self._away is not None or not self._waiting:
            return  # the group away takes what waits when it is back
        taken, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
        if len(taken) == 1 and not self._waiting:
            answer, call = taken[0]
            _settle(answer, *_call(call))
            return
        self._away = asyncio.ensure_future(self._record_away(taken))

    async def _record_away(self, taken: list[tuple[asyncio.Future[Any], _Call]]) -> None:
        try:
            outcomes = await self._thread.run(self._grouped, [call for _, call in taken])
        finally:
            self._away = None
        for (answer, _), (result, exc) in zip(taken, outcomes, strict=True):
            _settle(answer, result, exc)
        self._run_waiting()

    def _grouped(self, calls: list[_Call]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        try:
            with self._group():
                outcomes = [_call(call) for call in calls]
        except BaseException as exc:  # the commit failed: nothing of the group was kept
            return [(None, e if e is not None else exc) for _, e in outcomes] or [
                (None, exc) for _ in calls
            ]
        return outcomes


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", _Call]


class Workers:
    """``threads`` threads running the calls given to :meth:`run`, one at a time each."""

    def __init__(self, threads: int = 1, *, name: str = "kopsync-store") -> None:
        self._threads = threads
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._alive = 0
        self._lock = threading.Lock()

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, answer, (func, args)))
        self._start()
        return await answer

    def _start(self) -> None:
        """A thread more if fewer run than wanted: after the call is queued, under the lock a
        thread leaving takes, so that no call is left behind by a thread that just left."""
        with self._lock:
            if self._alive < self._threads:
                threading.Thread(target=self._work, name=self._name, daemon=True).start()
                self._alive += 1

    def _work(self) -> None:
        while True:
            try:
                loop, answer, call = self._jobs.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:  # a call queued meanwhile sees this thread gone, or is taken
                    if self._jobs.empty():
                        self._alive -= 1
                        return
                continue
            result, exc = _call(call)
            loop.call_soon_threadsafe(_settle, answer, result, exc)


def _call(call: _Call) -> _Outcome:
    func, args = call
    try:
        return func(*args), None
    except BaseException as exc:  # handed to the awaiting request, raised there
        return None, exc


def _settle(answer: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if answer.cancelled():  # the request went away; what ran is in the store regardless
        return
    if exc is None:
        answer.set_result(result)
    else:
        answer.set_exception(exc)
