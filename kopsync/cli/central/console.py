"""``kopsync central console`` (the operators' web console) and ``central operator add|list``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TextIO

import click
import structlog

from central_projector.console import operators
from central_projector.migrations.state import require_current
from central_projector.record.dbengine import make_engine
from central_projector.reporting.reader import read_engine
from kopsync.cli.central.project import db_option
from kopsync.cli.central.report import silent_days_option
from kopsync.cli.central.settings import ConsoleServeSettings
from kopsync.cli.common import (
    configure_logging,
    emit_json,
    friendly,
    json_option,
    log_format_option,
)
from kopsync.cli.config import config_option, settings_from
from kopsync.probes import parse_listen
from sync_core.errors import UsageError

log = structlog.get_logger("kopsync.console")


def read_secret(path: Path | None) -> str:
    if path is None:
        log.warning(
            "no --secret-file: sessions are signed with a key of this process only; "
            "operators log in again after a restart"
        )
        return secrets.token_urlsafe(48)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read --secret-file {path}: {exc.strerror}") from None
    if len(text) < 32:
        raise UsageError(
            f"--secret-file {path} holds fewer than 32 characters; use a long random key"
        )
    return text


@click.command()
@config_option("central-console")
@db_option
@click.option(
    "--listen",
    envvar="KOPSYNC_CONSOLE_LISTEN",
    default="127.0.0.1:8480",
    show_default=True,
    help="HOST:PORT to serve on ($KOPSYNC_CONSOLE_LISTEN).",
)
@click.option(
    "--secret-file",
    envvar="KOPSYNC_CONSOLE_SECRET_FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File with the key that signs session cookies ($KOPSYNC_CONSOLE_SECRET_FILE); "
    "the same on every console behind one address.",
)
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only.")
@silent_days_option
@click.option(
    "--cache-seconds",
    type=click.FloatRange(0, 3600),
    default=15.0,
    show_default=True,
    help="Serve a computed roll-up again for this long (the page says when it was computed); "
    "0 computes every page.",
)
@log_format_option("json")
@friendly
@settings_from(ConsoleServeSettings)
def console(settings: ConsoleServeSettings) -> None:
    """Serve the operator console: province → regency → cooperative, sync health,
    the conflict queue with its resolve form, replay status, exports, /metrics.

    Operators are made with `kopsync central operator add`.
    """
    import uvicorn

    from central_projector.console.app import ConsoleSettings, create_app

    s = settings
    configure_logging(as_json=s.log_format == "json")
    host, port = parse_listen(s.listen)
    read_engine(s.db_url).dispose()  # the store must exist: the console never creates one
    app = create_app(
        ConsoleSettings(
            s.db_url, read_secret(s.secret_file), s.secure_cookies, s.silent_days, s.cache_seconds
        )
    )
    log.info("console listening", url=f"http://{host}:{port}/", db=s.db_url)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@click.group()
def operator() -> None:
    """Console operators: who may log in, and for which regions."""


@operator.command("add")
@click.argument("operator_id")
@click.option("--name", default="", help="The operator's name, shown on decisions.")
@click.option(
    "--region",
    "regions",
    multiple=True,
    required=True,
    help="A region the operator may see and decide (repeat for several): 62, 6401…",
)
@click.option(
    "--password-file",
    type=click.File("r"),
    default=None,
    help="Read the password from this file ('-' for stdin) instead of a prompt.",
)
@click.option("--replace", is_flag=True, help="Overwrite an existing operator.")
@db_option
@json_option
@friendly
def operator_add(
    operator_id: str,
    name: str,
    regions: tuple[str, ...],
    password_file: TextIO | None,
    replace: bool,
    db_url: str,
    as_json: bool,
) -> None:
    """Add an operator OPERATOR_ID with a password (asked twice, never echoed)."""
    if password_file is not None:
        password = password_file.read().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = make_engine(db_url, must_exist=True)
    try:
        require_current(engine)
        op = operators.add_operator(engine, operator_id, name, password, regions, replace=replace)
    finally:
        engine.dispose()
    if as_json:
        emit_json({"operator_id": op.operator_id, "name": op.name, "regions": list(op.regions)})
    else:
        click.echo(f"operator {op.operator_id} ({op.name}) may act on {', '.join(op.regions)}")


@operator.command("list")
@db_option
@json_option
@friendly
def operator_list(db_url: str, as_json: bool) -> None:
    """The operators and their regions (never their passwords)."""
    engine = read_engine(db_url)
    try:
        with engine.connect() as conn:
            ops = operators.list_operators(conn)
    finally:
        engine.dispose()
    if as_json:
        emit_json([{"operator_id": o.operator_id, "name": o.name, "regions": list(o.regions)}
                   for o in ops])  # fmt: skip
        return
    if not ops:
        click.echo("no operators (kopsync central operator add ID --region 62)")
    for o in ops:
        click.echo(f"{o.operator_id:<20} {o.name:<30} {' '.join(o.regions)}")


def register(group: click.Group) -> None:
    group.add_command(console)
    group.add_command(operator)
