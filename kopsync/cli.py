"""The one command-line tool, ``kopsync``, with a group per kind of user."""

from __future__ import annotations

import click

from central_projector.cli import central
from central_projector.partners.cli import partner
from central_projector.security.cli import admin_group
from edge_agent.cli import edge
from kopsync import __version__
from kopsync.demo.cli import demo
from schemas.cli import schemas


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
