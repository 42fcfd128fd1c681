"""The one command-line tool, ``kopsync``, with a group per kind of user.

Each group is imported only when it runs (:class:`~kopsync.cli.lazy.LazyGroup`): a
device's command never loads the central's code, and ``--version`` loads none.
"""

from __future__ import annotations

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
    cli(prog_name="kopsync")
