"""Command groups whose subcommands are imported only when they are run.

``kopsync --version`` and ``kopsync edge …`` must not pay for the central's imports
(SQLAlchemy, Alembic, the projector): a counter runs one command per sale. A
:class:`LazyGroup` names each subcommand by ``"module:attribute"`` and imports the
module the first time the subcommand is looked up (to run it, or to list it in
``--help``, which therefore still shows every command).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click


class LazyGroup(click.Group):
    """A click group whose ``lazy`` subcommands are imported on first use."""

    def __init__(
        self, *args: object, lazy: Mapping[str, str] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command
