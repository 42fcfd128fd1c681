"""Shared command-line plumbing: one-line errors, JSON output, data directories."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from kopsync.cli import exits

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DATA = "kopsync-data"


def fail(message: str, code: int = exits.USAGE) -> NoReturn:
    """Print one line to stderr and exit non-zero."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def friendly(func: F) -> F:
    """Turn any error into one ``error:`` line and its class's exit code (:mod:`exits`).

    The ``kopsync`` group does the same for every command (:func:`kopsync.cli.main.cli`);
    this decorator keeps it for a command invoked on its own (tests, embedding).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except json.JSONDecodeError as exc:
            fail(f"--json is not valid JSON ({exc.msg} at position {exc.pos})")
        except (Exception, KeyboardInterrupt) as exc:
            exits.report(exc)

    return wrapper  # type: ignore[return-value]


def data_option(func: F) -> F:
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KOPSYNC_DATA",
        default=Path(DEFAULT_DATA),
        show_default=f"$KOPSYNC_DATA or ./{DEFAULT_DATA}",
        help="The device's data directory.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def creds_option(func: F) -> F:
    """``--creds FILE``: a NATS credentials file ($KOPSYNC_NATS_CREDS)."""
    return click.option(
        "--creds",
        "credentials",
        envvar="KOPSYNC_NATS_CREDS",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="NATS credentials file ($KOPSYNC_NATS_CREDS).",
    )(func)


def nkey_option(whose: str, made_by: str = "kopsync admin") -> Callable[[F], F]:
    """``--nkey FILE``: the nkey seed of ``whose`` ($KOPSYNC_NATS_NKEY)."""
    return click.option(
        "--nkey",
        "nkey",
        envvar="KOPSYNC_NATS_NKEY",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"{whose} nkey seed file, mode 0600, made by `{made_by}` ($KOPSYNC_NATS_NKEY).",
    )


def inbox_option(func: F) -> F:
    """``--nats-inbox PREFIX``: the reply-subject prefix the client's NATS permissions allow
    ($KOPSYNC_NATS_INBOX; default nats-py's ``_INBOX``, the central's)."""
    return click.option(
        "--nats-inbox",
        "nats_inbox",
        envvar="KOPSYNC_NATS_INBOX",
        default=None,
        help="Reply-subject prefix the NATS user may subscribe to ($KOPSYNC_NATS_INBOX; "
        "default _INBOX).",
    )(func)


def tls_options(func: F) -> F:
    """``--tls-ca``, ``--tls-cert``, ``--tls-key`` (or their ``KOPSYNC_NATS_TLS_*``
    variables), passed on as one ``tls`` argument (:class:`kopsync.connection.TlsFlags`)."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        from kopsync.connection import TlsFlags  # here: a teller command loads no NATS code

        return func(*args, tls=TlsFlags(tls_ca, tls_cert, tls_key), **kwargs)

    path = click.Path(dir_okay=False)
    options = [
        click.option(
            "--tls-ca",
            envvar="KOPSYNC_NATS_TLS_CA",
            type=path,
            default=None,
            help="For tls:// URLs: the CA certificate the server's must be signed by, "
            "from `kopsync admin tls ca` ($KOPSYNC_NATS_TLS_CA).",
        ),
        click.option(
            "--tls-cert",
            envvar="KOPSYNC_NATS_TLS_CERT",
            type=path,
            default=None,
            help="A client certificate, for servers that verify clients ($KOPSYNC_NATS_TLS_CERT).",
        ),
        click.option(
            "--tls-key",
            envvar="KOPSYNC_NATS_TLS_KEY",
            type=path,
            default=None,
            help="The client certificate's key, mode 0600 ($KOPSYNC_NATS_TLS_KEY).",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def metrics_option(func: F) -> F:
    """``--metrics-listen HOST:PORT``: serve /metrics, /healthz and /readyz there."""
    return click.option(
        "--metrics-listen",
        "metrics_listen",
        envvar="KOPSYNC_METRICS_LISTEN",
        default=None,
        help="Serve /metrics, /healthz and /readyz on HOST:PORT, e.g. 127.0.0.1:9101 "
        "($KOPSYNC_METRICS_LISTEN; default: none).",
    )(func)


LOG_FORMATS = ("json", "console")


def log_format_option(default: str | None) -> Callable[[F], F]:
    """``--log-format json|console`` ($KOPSYNC_LOG_FORMAT) on a service; the command gets
    ``log_format`` (``default`` when not given; None lets the command choose). The flags it
    replaces, ``--log-json`` and ``--log-console``, still work, hidden."""
    shown = default or "json with --json, else console"

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(
            *args: Any, log_format: str | None, log_json: bool, log_console: bool, **kwargs: Any
        ) -> Any:
            legacy = "json" if log_json else "console" if log_console else None
            return func(*args, log_format=log_format or legacy or default, **kwargs)

        options = [
            click.option("--log-json", "log_json", is_flag=True, hidden=True),
            click.option("--log-console", "log_console", is_flag=True, hidden=True),
            click.option(
                "--log-format",
                type=click.Choice(LOG_FORMATS),
                envvar="KOPSYNC_LOG_FORMAT",
                default=None,
                help=f"Log lines as JSON (for a service manager or a collector) or readable "
                f"($KOPSYNC_LOG_FORMAT; default {shown}).",
            ),
        ]
        decorated: Any = wrapper
        for option in options:
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


def configure_logging(*, as_json: bool, level: int = logging.INFO) -> None:
    """Once per process: JSON lines for services, readable lines for people, on stderr."""
    import structlog  # here, not at the top: it loads rich, which a teller command never needs

    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call ``stop`` on SIGINT or SIGTERM in the running event loop.

    Where the loop cannot take signal handlers (another platform, or a loop off the
    main thread as in tests) there is nothing to install and nothing to stop.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True))


def parse_json_object(text: str, what: str = "--json") -> dict[str, Any]:
    from sync_core.errors import UsageError

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object, e.g. '{{\"amount\": 50000}}'")
    where = _float_path(value, "")
    if where is not None:
        raise UsageError(
            f"{what}: field '{where}' is a fractional number; money is integer rupiah "
            "and quantities are whole numbers"
        )
    return value


def _float_path(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return path or "(top)"
    if isinstance(value, dict):
        items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    for p, v in items:
        found = _float_path(v, p)
        if found is not None:
            return found
    return None
