"""What an upload's transaction has read of one device's rows, and what it still needs.

Pure data: :mod:`central_projector.ingest.upload` fills a :class:`Known` from the record,
:func:`central_projector.ingest.verdict.decide` answers from it or names what is
:class:`Missing`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Stored:
    """A row of the device stored before this upload."""

    seq: int
    prev_hash: bytes
    hash: bytes
    held: bool
    envelope: bytes


@dataclass(frozen=True, slots=True)
class Missing:
    """What to read: the rows in ``ranges`` (inclusive), for each ``floors`` entry ``s`` the
    highest seq stored below ``s``, and (``open_gaps``) the first seq of each open gap."""

    ranges: tuple[tuple[int, int], ...] = ()
    floors: tuple[int, ...] = ()
    open_gaps: bool = False


@dataclass(frozen=True, slots=True)
class Known:
    """Rows read, by seq: a seq inside a ``covered`` range and not in ``rows`` is absent.

    ``floors[s]`` is the highest seq stored below ``s`` (0: none); ``open_gaps`` the first seq
    of each open gap of the device, None if they were not read.
    """

    rows: Mapping[int, Stored] = field(default_factory=dict)
    covered: tuple[tuple[int, int], ...] = ()
    floors: Mapping[int, int] = field(default_factory=dict)
    open_gaps: frozenset[int] | None = None
    _seqs: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "covered", _merge(self.covered))
        object.__setattr__(self, "_seqs", tuple(sorted(self.rows)))

    def merged(self, other: Known) -> Known:
        gaps = other.open_gaps if other.open_gaps is not None else self.open_gaps
        return Known(
            {**self.rows, **other.rows},
            (*self.covered, *other.covered),
            {**self.floors, **other.floors},
            gaps,
        )

    def covers(self, seq: int) -> bool:
        return self._range_of(seq) is not None

    def row_below(self, seq: int) -> int:
        """The highest seq of a row read that is below ``seq`` (0: none)."""
        i = bisect.bisect_left(self._seqs, seq)
        return self._seqs[i - 1] if i else 0

    def uncovered_below(self, seq: int, floor: int) -> int | None:
        """The highest seq strictly between ``floor`` and ``seq`` not covered (None: none)."""
        x = seq - 1
        found = self._range_of(x)
        if found is not None:
            x = found[0] - 1  # ranges are merged: the seq before one is not covered
        return x if x > floor else None

    def _range_of(self, seq: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(self.covered, seq, key=lambda r: r[0]) - 1
        if i >= 0 and self.covered[i][0] <= seq <= self.covered[i][1]:
            return self.covered[i]
        return None


def _merge(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)
