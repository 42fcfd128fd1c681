"""The API's store threads: calls queued while one runs are run together in one group."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from edge_agent.http import workers as workers_module
from edge_agent.http.workers import Workers


class Groups:
    """A ``group`` that notes the calls made inside each block, and can fail at its end."""

    def __init__(self) -> None:
        self.blocks: list[list[str]] = []
        self.fail = False
        self.inside: list[str] | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.inside = []
        yield
        self.blocks.append(self.inside)
        self.inside = None
        if self.fail:
            raise OSError("commit failed")

    def call(self, name: str) -> str:
        if self.inside is not None:
            self.inside.append(name)
        if name == "refused":
            raise ValueError("refused by a rule")
        return name.upper()


async def queued_behind_a_blocked_call(groups: Groups, names: list[str]) -> list[object]:
    workers = Workers(group=groups)
    running, gate = threading.Event(), threading.Event()

    def blocked() -> bool:
        running.set()
        return gate.wait(10)

    first = asyncio.ensure_future(workers.run(blocked))
    while not running.is_set():  # until the thread has taken the first call and waits in it
        await asyncio.sleep(0.01)
    rest = [asyncio.ensure_future(workers.run(groups.call, n)) for n in names]
    await asyncio.sleep(0.05)  # every call is queued (each task puts its call at its start)
    gate.set()
    assert await first is True
    return list(await asyncio.gather(*rest, return_exceptions=True))


async def test_calls_queued_meanwhile_run_in_one_group_each_with_its_own_outcome() -> None:
    """Three calls queued behind a running one run in one group; the refused one is
    answered with its error, the others with their results."""
    groups = Groups()
    outcomes = await queued_behind_a_blocked_call(groups, ["a", "refused", "b"])
    assert groups.blocks == [["a", "refused", "b"]]
    assert outcomes[0] == "A" and outcomes[2] == "B"
    assert isinstance(outcomes[1], ValueError)


async def test_a_group_whose_commit_fails_answers_every_call_with_the_failure() -> None:
    """If the group's commit fails, no call of it is answered as done."""
    groups = Groups()
    groups.fail = True
    outcomes = await queued_behind_a_blocked_call(groups, ["a", "refused", "b"])
    assert isinstance(outcomes[0], OSError) and isinstance(outcomes[2], OSError)
    assert isinstance(outcomes[1], ValueError)


async def test_a_lone_call_runs_outside_any_group() -> None:
    """One call with nothing queued behind it runs as it is: no group is opened."""
    groups = Groups()
    workers = Workers(group=groups)
    assert await workers.run(groups.call, "x") == "X"
    with pytest.raises(ValueError):
        await workers.run(groups.call, "refused")
    assert groups.blocks == []


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
