"""Exit codes by class of failure, and the one-line report of an error.

Every command exits with one of these; ``kopsync --help`` and the README list them. The
error tree (``sync_core.errors``) decides the class, the way an HTTP entry point maps the
same tree to statuses. Library errors that escape an adapter untranslated are classed by
what they are (a connection refused is transient) and still reported in one line.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from sync_core import errors

OK = 0
INTERNAL = 1
USAGE = 2
REFUSED = 3
TRANSIENT = 4
INTERRUPTED = 130

HELP = (
    "Exit codes: 0 ok; 1 internal error, or a verify that found damage; 2 usage or bad "
    "input (a wrong option, file or database URL); 3 refused by a business rule or by the "
    "store's state (not migrated, not trusted, not authorised); 4 transient: unreachable, "
    "locked or unconfirmed, retry later; 130 interrupted."
)

DEBUG_ENV = "KOPSYNC_DEBUG"

_REFUSED = (
    errors.RuleViolation,
    errors.NotAuthorised,
    errors.IntegrityError,
    errors.StoreNotMigrated,
    errors.StoreUnsafe,
)
_TRANSIENT = (errors.SyncError, errors.StoreUnavailable, errors.StoreFull)


def exit_code(exc: BaseException) -> int:
    """The class of ``exc`` as an exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if _credentials_refused(exc):
        return USAGE  # give the right --nkey or --creds: retrying as is cannot help
    if isinstance(exc, _REFUSED):
        return REFUSED
    if isinstance(exc, _TRANSIENT):
        return TRANSIENT
    if isinstance(exc, errors.KopsyncError):
        return USAGE
    if _database_unreachable(exc) or isinstance(exc, (ConnectionError, TimeoutError)):
        return TRANSIENT
    return INTERNAL


def message(exc: BaseException) -> str:
    """What went wrong, on one line."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    orig = getattr(exc, "orig", None)  # a SQLAlchemy error: the driver's words
    text = " ".join(str(orig if orig is not None else exc).split()) or type(exc).__name__
    if isinstance(exc, errors.KopsyncError):
        return text
    if _database_unreachable(exc):
        return f"cannot reach the database ({text}); check that it runs, then retry"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"{text}; check that the server runs, then retry"
    return (
        f"internal error: {type(exc).__name__}: {text} "
        f"(run again with {DEBUG_ENV}=1 for the traceback, and report it)"
    )


def _database_unreachable(exc: BaseException) -> bool:
    """A SQLAlchemy OperationalError (without importing SQLAlchemy into a device's command)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, sa_exc.OperationalError)


def _credentials_refused(exc: BaseException) -> bool:
    """The NATS server refused our credentials (looked up only if the transport was loaded)."""
    link = sys.modules.get("sync_core.transport.link")
    return link is not None and isinstance(exc, link.AuthRefused)


def report(exc: BaseException) -> NoReturn:
    """Print ``error: …`` to stderr and exit with the class's code (re-raise when debugging)."""
    code = exit_code(exc)
    if code == INTERNAL and os.environ.get(DEBUG_ENV):
        raise exc
    click.echo(f"error: {message(exc)}", err=True)
    sys.exit(code)
