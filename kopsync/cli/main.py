"""The one command-line tool, ``kopsync``, with a group per kind of user.

Each group is imported only when it runs (:class:`~kopsync.cli.lazy.LazyGroup`): a
device's command never loads the central's code, and ``--version`` loads none.
"""

from __future__ import annotations

import sys

import click

from kopsync import __version__
from kopsync.cli.lazy import LazyGroup

GROUPS = {
    "edge": "kopsync.cli.edge:edge",
    "central": "kopsync.cli.central:central",
    "schemas": "kopsync.cli.schemas:schemas",
    "partner": "kopsync.cli.partner:partner",
    "admin": "kopsync.cli.admin:admin_group",
    "demo": "kopsync.cli.demo:demo",
}


@click.group(cls=LazyGroup, lazy=GROUPS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kopsync")
def cli() -> None:
    """kopsync: offline-first, event-sourced sync for village cooperatives."""


def main() -> None:
    if sys.argv[1:2] == ["edge"]:
        _without_rich()
    cli(prog_name="kopsync")


def _without_rich() -> None:
    """A device's process does not load ``rich``: 4 MB of an agent that must fit in 45 MB.

    structlog imports rich, when it is installed, only to draw console tracebacks; what
    needs it is the central's progress bars. A ``None`` entry in ``sys.modules`` makes
    ``import rich`` fail as if it were not installed, and structlog then draws plain
    tracebacks. Only the entry point does this, for its own process (never a test runner
    that imports the CLI).
    """
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
