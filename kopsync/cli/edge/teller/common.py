"""What every teller command shares: one-line errors, option parsers, record and report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from edge_agent.app.agent import EdgeAgent
from kopsync.cli.common import data_option, emit_json, friendly, json_option
from schemas.catalog import PAYMENT_METHODS
from sync_core.envelope import Envelope

F = TypeVar("F", bound=Callable[..., Any])


class OneLineError(click.ClickException):
    """A usage error shown as one ``error:`` line, like every other kopsync error."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class TellerCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise OneLineError(f"{ctx.command_path}: {exc.format_message()}") from None


class TellerGroup(click.Group):
    command_class = TellerCommand


# --- option parsing (callbacks raise BadParameter, which TellerCommand shows in one line) ---


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def parse_parts(shape: str, example: str, *, optional_last: bool = False) -> Any:
    """A callback parsing repeated ``A:B[:C]`` values whose parts after the first are integers."""
    labels = shape.split(":")

    def parse_one(text: str) -> tuple[Any, ...]:
        parts = text.split(":")
        least = len(labels) - 1 if optional_last else len(labels)
        if not least <= len(parts) <= len(labels) or not parts[0]:
            raise click.BadParameter(f"{text!r} is not {shape} (e.g. {example})")
        numbers: list[int | None] = []
        for label, part in zip(labels[1:], parts[1:], strict=False):
            try:
                numbers.append(int(part))
            except ValueError:
                raise click.BadParameter(
                    f"{text!r}: {label} must be a whole number (rupiah and quantities are "
                    f"integers), got {part!r}"
                ) from None
        numbers += [None] * (len(labels) - len(parts))
        return (parts[0], *numbers)

    def callback(
        ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
    ) -> list[tuple[Any, ...]]:
        return [parse_one(v) for v in values]

    return callback


def parse_payments(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    pays: list[tuple[Any, ...]] = parse_parts("METHOD:AMOUNT", "cash:50000")(ctx, param, values)
    for method, _ in pays:
        if method not in PAYMENT_METHODS:
            raise click.BadParameter(
                f"method must be one of {', '.join(PAYMENT_METHODS)}, got {method!r}"
            )
    return pays


def money(name: str, *, required: bool = True, help: str = "Rupiah (integer).") -> Callable[[F], F]:
    dest = name.lstrip("-").replace("-", "_")
    return click.option(name, dest, required=required, type=click.INT, default=None, help=help)


def date(
    name: str, dest: str, help: str = "Default: today.", *, required: bool = False
) -> Callable[[F], F]:
    return click.option(
        name, dest, callback=_parse_date, required=required, metavar="YYYY-MM-DD", help=help
    )


def override_option(func: F) -> F:
    return click.option(
        "--override-stock",
        "override_stock",
        default=None,
        metavar="REASON",
        help="Let stock go below zero, for this reason (kept with the event).",
    )(func)


def items_option(func: F) -> F:
    return click.option(
        "--item",
        "items",
        multiple=True,
        required=True,
        metavar="SKU:QTY",
        callback=parse_parts("SKU:QTY", "LPG-3KG:20"),
        help="Goods; repeat per sku.",
    )(func)


def common_options(func: F) -> F:
    """``--data`` and ``--json``, and every error as one ``error:`` line."""
    return data_option(json_option(friendly(func)))


def record(
    data_dir: Path, as_json: bool, act: Callable[[EdgeAgent], Envelope], id_name: str | None = None
) -> None:
    """Record what ``act`` records on the device at ``data_dir``, and say so (or as JSON)."""
    with EdgeAgent(data_dir) as agent:
        env = act(agent)
    out: dict[str, Any] = {
        "seq": env.seq,
        "type": env.type,
        "aggregate_id": env.aggregate_id,
        "event_id": env.event_id,
    }
    if id_name is not None:
        out[id_name] = env.aggregate_id
    if as_json:
        emit_json(out)
    else:
        click.echo(f"recorded seq {env.seq}: {env.type} {env.aggregate_id} (event {env.event_id})")


def view_or_empty(agent: EdgeAgent, key: str) -> dict[str, Any]:
    return agent.view(key) or {}
