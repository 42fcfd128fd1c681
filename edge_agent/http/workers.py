"""Store calls off the event loop: a thread for the appends, with group commit, one for reads.

SQLite commits wait for fsync, and the event loop also runs the replicator, so the handlers
hand store calls to threads of their own: a plain queue in, the loop's
``call_soon_threadsafe`` back. (anyio's thread pool did the same with a capacity limiter, a
cancel scope and an extra pass of the loop: about 0.13 ms of CPU a record, a third of what
the API added to the append itself.)

**Group commit.** Appends take turns on the store's one write connection anyway, so they go
to one thread. When requests arrive while an append is waiting for its fsync, that thread
takes all that queued meanwhile (up to :data:`MAX_GROUP`) and records them in one
transaction, each in a savepoint of its own (:meth:`EdgeAgent.group`): one fsync for the
group, each request answered only once the group is durable. A request refused by a rule
is undone alone and answered with its refusal; if the commit fails, every request of the
group is answered with that failure and none is recorded. A lone request is recorded as
before, in a transaction of its own.

A call whose request is cancelled (the client went away) still runs to its end: a
recording is never cut short. The threads are daemons, started when calls come and ended
after :data:`IDLE_S` without one (as anyio's are), so that an app no longer served does not
keep threads, nor its agent, alive.
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
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]
_Outcome = tuple[Any, BaseException | None]


class Workers:
    """``threads`` threads running the calls given to :meth:`run`; with ``group``, each
    takes every call queued meanwhile and runs them inside one ``group()`` block."""

    def __init__(
        self,
        threads: int = 1,
        *,
        group: Callable[[], AbstractContextManager[None]] | None = None,
        name: str = "kopsync-store",
    ) -> None:
        self._threads = threads
        self._group = group
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._alive = 0
        self._lock = threading.Lock()

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, answer, func, args))
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
                jobs = [self._jobs.get(timeout=IDLE_S)]
            except queue.Empty:
                with self._lock:  # a call queued meanwhile sees this thread gone, or is taken
                    if self._jobs.empty():
                        self._alive -= 1
                        return
                continue
            while self._group is not None and len(jobs) < MAX_GROUP:
                try:
                    jobs.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            outcomes = [_call(jobs[0])] if len(jobs) == 1 else self._grouped(jobs)
            for (loop, answer, _, _), (result, exc) in zip(jobs, outcomes, strict=True):
                loop.call_soon_threadsafe(_settle, answer, result, exc)

    def _grouped(self, jobs: list[_Job]) -> list[_Outcome]:
        assert self._group is not None
        outcomes: list[_Outcome] = []
        try:
            with self._group():
                outcomes = [_call(job) for job in jobs]
        except BaseException as exc:  # the commit failed: nothing of the group was kept
            return [(None, e if e is not None else exc) for _, e in outcomes] or [
                (None, exc) for _ in jobs
            ]
        return outcomes


def _call(job: _Job) -> _Outcome:
    _, _, func, args = job
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
