"""The API's store calls: a lone append on the loop, appends asked for together in one group
on the recording thread; reads in a thread of their own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from edge_agent.http import workers as workers_module
from edge_agent.http.workers import Appends, Workers


class Groups:
    """A ``group`` that notes the calls made inside each block, and can fail at its end."""

    def __init__(self) -> None:
        self.blocks: list[list[str]] = []
        self.fail = False
        self.inside: list[str] | None = None
        self.calls: list[str] = []

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.inside = []
        yield
        self.blocks.append(self.inside)
        self.inside = None
        if self.fail:
            raise OSError("commit failed")

    def call(self, name: str) -> str:
        self.calls.append(name)
        if self.inside is not None:
            self.inside.append(name)
        if name == "refused":
            raise ValueError("refused by a rule")
        return name.upper()


async def together(appends: Appends, groups: Groups, names: list[str]) -> list[object]:
    """The calls of ``names`` asked for in one pass of the loop (requests that came together)."""
    calls = [appends.run(groups.call, n) for n in names]
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_calls_asked_in_one_pass_run_in_one_group_each_with_its_own_outcome() -> None:
    """Three calls that come together run in one group; the refused one is answered with
    its error, the others with their results."""
    groups = Groups()
    outcomes = await together(Appends(groups), groups, ["a", "refused", "b"])
    assert groups.blocks == [["a", "refused", "b"]]
    assert outcomes[0] == "A" and outcomes[2] == "B"
    assert isinstance(outcomes[1], ValueError)


async def test_a_group_whose_commit_fails_answers_every_call_with_the_failure() -> None:
    """If the group's commit fails, no call of it is answered as done."""
    groups = Groups()
    groups.fail = True
    outcomes = await together(Appends(groups), groups, ["a", "refused", "b"])
    assert isinstance(outcomes[0], OSError) and isinstance(outcomes[2], OSError)
    assert isinstance(outcomes[1], ValueError)


async def test_a_lone_call_runs_outside_any_group() -> None:
    """One call with nothing beside it runs as it is: no group is opened."""
    groups = Groups()
    appends = Appends(groups)
    assert await appends.run(groups.call, "x") == "X"
    with pytest.raises(ValueError):
        await appends.run(groups.call, "refused")
    assert groups.blocks == []


async def test_calls_beyond_a_full_group_run_in_the_next_pass() -> None:
    """More calls at once than a group holds: the first MAX_GROUP together, then the rest."""
    groups = Groups()
    names = [f"n{i}" for i in range(workers_module.MAX_GROUP + 3)]
    outcomes = await together(Appends(groups), groups, names)
    assert outcomes == [n.upper() for n in names]
    assert groups.blocks == [names[: workers_module.MAX_GROUP], names[workers_module.MAX_GROUP :]]


async def test_a_call_whose_request_went_away_still_runs() -> None:
    """A request cancelled (its client gone) after asking is still recorded: it was accepted."""
    groups = Groups()
    appends = Appends(groups)
    asked = asyncio.ensure_future(appends.run(groups.call, "gone"))
    await asyncio.sleep(0)  # the request has asked
    asked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asked
    assert await appends.run(groups.call, "next") == "NEXT"
    assert groups.calls == ["gone", "next"]


async def test_a_lone_call_runs_on_the_loop_a_group_on_the_recording_thread() -> None:
    """A lone append runs on the loop's own thread; a group on the recording thread, its
    calls in the order they were asked for."""
    groups = Groups()
    threads: list[int] = []

    def call(name: str) -> str:
        threads.append(threading.get_ident())
        return groups.call(name)

    appends = Appends(groups)
    assert await appends.run(call, "x") == "X"
    assert await asyncio.gather(*(appends.run(call, n) for n in "abc")) == ["A", "B", "C"]
    loop_thread = threading.get_ident()
    assert threads[0] == loop_thread
    assert len(set(threads[1:])) == 1 and threads[1] != loop_thread
    assert groups.blocks == [["a", "b", "c"]]


async def test_calls_that_come_while_a_group_is_away_make_the_next_group() -> None:
    """While a group waits for its commit on the recording thread, the loop goes on: the
    calls asked for meanwhile are answered after it, together in the next group."""
    groups = Groups()
    running, gate = threading.Event(), threading.Event()

    def slow(name: str) -> str:
        running.set()
        gate.wait(10)
        return groups.call(name)

    appends = Appends(groups)
    first = asyncio.gather(appends.run(slow, "a"), appends.run(groups.call, "b"))
    while not running.is_set():  # the first group is on the thread, in its first call
        await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(appends.run(groups.call, n)) for n in ("c", "refused", "d")]
    await asyncio.sleep(0.05)  # the loop is free: every later call has been asked for
    assert not any(t.done() for t in later)
    gate.set()
    assert await first == ["A", "B"]
    outcomes = await asyncio.gather(*later, return_exceptions=True)
    assert outcomes[0] == "C" and outcomes[2] == "D" and isinstance(outcomes[1], ValueError)
    assert groups.blocks == [["a", "b"], ["c", "refused", "d"]]


async def test_idle_threads_end_and_a_later_call_starts_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Threads without a call for the idle time end; the next call is still answered."""
    monkeypatch.setattr(workers_module, "IDLE_S", 0.05)
    workers = Workers(threads=2, name="kopsync-test-idle")

    def alive() -> int:
        return sum(t.name == "kopsync-test-idle" for t in threading.enumerate())

    assert await workers.run(str.upper, "a") == "A"
    assert alive() >= 1
    for _ in range(100):
        if alive() == 0:
            break
        await asyncio.sleep(0.02)
    assert alive() == 0
    assert await workers.run(str.upper, "b") == "B"
