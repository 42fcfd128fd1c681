"""Hybrid logical clock (Kulkarni et al., 2014): wall milliseconds plus a counter.

Pure functions; the edge store persists the last value so the clock stays
monotonic across restarts and backward wall-clock jumps.
"""

from __future__ import annotations

from dataclasses import dataclass

# Clocks are kept in signed 64-bit columns centrally; a peer's larger value is malformed.
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True, order=True)
class Hlc:
    """A hybrid logical timestamp; ordering is (wall, counter)."""

    wall: int
    counter: int

    def to_wire(self) -> list[int]:
        return [self.wall, self.counter]

    @classmethod
    def from_wire(cls, value: object) -> Hlc:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= INT64_MAX
                for v in value
            )
        ):
            raise ValueError("hlc must be a list [wall_ms, counter] of integers in 0 .. 2**63-1")
        return cls(value[0], value[1])


ZERO = Hlc(0, 0)


def send(last: Hlc, now_ms: int) -> Hlc:
    """The timestamp of a local or send event, strictly after ``last``."""
    if now_ms > last.wall:
        return Hlc(now_ms, 0)
    return Hlc(last.wall, last.counter + 1)


def receive(last: Hlc, remote: Hlc, now_ms: int) -> Hlc:
    """The timestamp after receiving ``remote``: after both ``last`` and ``remote``."""
    wall = max(last.wall, remote.wall, now_ms)
    if wall == last.wall and wall == remote.wall:
        counter = max(last.counter, remote.counter) + 1
    elif wall == last.wall:
        counter = last.counter + 1
    elif wall == remote.wall:
        counter = remote.counter + 1
    else:
        counter = 0
    return Hlc(wall, counter)
