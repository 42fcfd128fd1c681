"""The one command-line tool, ``kopsync``, with a group per kind of user.

Each group is imported only when it runs (:class:`~kopsync.cli.lazy.LazyGroup`): a
device's command never loads the central's code, and ``--version`` loads none.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from kopsync import __version__
from kopsync.cli import exits
from kopsync.cli.lazy import LazyGroup

GROUPS = {
    "edge": "kopsync.cli.edge:edge",
    "central": "kopsync.cli.central:central",
    "schemas": "kopsync.cli.schemas:schemas",
    "partner": "kopsync.cli.partner:partner",
    "admin": "kopsync.cli.admin:admin_group",
    "demo": "kopsync.cli.demo:demo",
}


class Root(LazyGroup):
    """The ``kopsync`` group: whatever a command raises ends as one ``error:`` line and the
    exit code of its class (:mod:`kopsync.cli.exits`), so every command inherits it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.Abort as exc:  # click's own word for Ctrl-C or end of input at a prompt
            if isinstance(exc.__context__, KeyboardInterrupt):
                exits.report(exc.__context__)
            click.echo("error: no answer to the prompt (end of input)", err=True)
            sys.exit(exits.USAGE)
        except (click.exceptions.ClickException, click.exceptions.Exit):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            exits.report(exc)


@click.group(
    cls=Root,
    lazy=GROUPS,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=exits.HELP,
)
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
