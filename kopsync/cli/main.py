"""The one command-line tool, ``kopsync``, with a group per kind of user."""

from __future__ import annotations

import click

from kopsync import __version__
from kopsync.cli.admin import admin_group
from kopsync.cli.central import central
from kopsync.cli.demo import demo
from kopsync.cli.edge import edge
from kopsync.cli.partner import partner
from kopsync.cli.schemas import schemas


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kopsync")
def cli() -> None:
    """kopsync: offline-first, event-sourced sync for village cooperatives."""


cli.add_command(edge)
cli.add_command(central)
cli.add_command(schemas)
cli.add_command(partner)
cli.add_command(admin_group)
cli.add_command(demo)


def main() -> None:
    cli(prog_name="kopsync")
