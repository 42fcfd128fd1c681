"""Progress of a replay's build: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_EVERY_S = 5.0


class PlainProgress:
    """One line per ``every`` seconds (and the last): done/total, percent, rate, ETA."""

    def __init__(self, out: IO[str], every: float = PLAIN_EVERY_S) -> None:
        self.out, self.every = out, every
        self.began = time.monotonic()
        self.last = -self.every
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == self.shown or (done < total and now - self.last < self.every):
            return
        self.last, self.shown = now, done
        elapsed = now - self.began
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"{(total - done) / rate:.0f} s" if rate > 0 else "?"
        pct = 100.0 * done / total if total else 100.0
        print(
            f"replay: {done}/{total} events ({pct:.1f} %), {rate:.0f} events/s, ETA {eta}",
            file=self.out,
            flush=True,
        )

    def close(self) -> None:
        pass


class BarProgress:
    """A rich progress bar with rate and ETA on the terminal's stderr."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.bar.add_task("replay", total=None, rate="0")
        self.began = time.monotonic()
        self.bar.start()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.began
        rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "0"
        self.bar.update(self.task, completed=done, total=total, rate=rate)

    def close(self) -> None:
        self.bar.stop()


Reporter = PlainProgress | BarProgress


def reporter(out: IO[str] | None = None, every: float = PLAIN_EVERY_S) -> Reporter:
    """A bar when ``out`` (stderr by default) is a terminal, plain lines when it is not."""
    out = out if out is not None else sys.stderr
    if out.isatty():
        return BarProgress(Console(file=out))
    return PlainProgress(out, every)
