"""Settings of a long-running process: flags, ``KOPSYNC_*`` variables and a TOML file.

Every option of a service resolves once, when the command starts, in this order: the flag
given on the command line, else its ``KOPSYNC_*`` environment variable, else its key in the
``--config`` file, else the built-in default (click's own order for a command line, its
environment and its ``default_map``). The command then builds one frozen settings object
(:func:`settings_from`) and passes plain values down; nothing below reads the environment.

The file is TOML; a key is the option's long name without the dashes::

    # for every service that has the option
    nats = "nats://127.0.0.1:4222"
    db = "postgresql+psycopg://kopsync@db/kopsync"
    log-format = "json"

    [central-ingest]          # only for `kopsync central ingest`
    partitions = 4

A key at the top applies to every command that has that option; a table
(``[central-ingest]``, ``[central-project]``, ``[central-console]``, ``[partner-fanout]``,
``[edge-run]``, ``[edge-hub]``) applies to its command only, so one file can serve every
process of a machine. Relative paths are relative to the file. A file that cannot be read
or parsed, a key no command knows, or a value of the wrong type is one ``error:`` line
naming the file and the key, exit code 2.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Collection
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from kopsync.cli import exits

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_ENV = "KOPSYNC_CONFIG"

# The commands a file may hold a table for.
SECTIONS = (
    "central-ingest",
    "central-project",
    "central-console",
    "partner-fanout",
    "edge-run",
    "edge-hub",
)

# Top-level keys a file shared by several processes may hold even where the command
# running has no such option (it is another process's).
SHARED = frozenset({
    "nats", "hub", "db", "creds", "nkey", "nats-inbox", "tls-ca", "tls-cert", "tls-key",
    "log-format", "metrics-listen", "data",
})  # fmt: skip


def config_option(
    section: str, *, reserved: Collection[str] = (), required: bool = False, help: str = ""
) -> Callable[[F], F]:
    """``--config FILE`` ($KOPSYNC_CONFIG) for the command of ``section``: the file's values
    become the defaults of the command's options. ``reserved`` top-level keys belong to the
    command itself (the partners of ``partner fanout``) and are left to it."""
    assert section in SECTIONS, section

    def load(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is not None:
            ctx.default_map = defaults(ctx.command, section, value, ctx, reserved)
        return value

    return click.option(
        "--config",
        "config_path",
        envvar=CONFIG_ENV,
        type=click.Path(dir_okay=False, path_type=Path),
        required=required,
        is_eager=True,  # first: the other options' defaults come from it
        expose_value=True,
        callback=load,
        help=help
        or f"A TOML settings file: top-level keys and a [{section}] table, named as the "
        "options; flags and $KOPSYNC_* variables win over it ($KOPSYNC_CONFIG).",
    )


def read(path: Path) -> dict[str, Any]:
    """The TOML document of ``path``, or one ``error:`` line (exit 2)."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        _fail(f"--config {path} does not exist")
    except OSError as exc:
        _fail(f"cannot read --config {path}: {exc.strerror}")
    except tomllib.TOMLDecodeError as exc:
        _fail(f"{path}: not valid TOML ({exc})")


def file_keys(command: click.Command) -> frozenset[str]:
    """Every top-level key a settings file for ``command`` may hold."""
    return frozenset(option_keys(command)) | SHARED | frozenset(SECTIONS)


def option_keys(command: click.Command) -> dict[str, click.Option]:
    """The command's options by file key (long name without the dashes)."""
    out: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name != "config_path":
            for opt in param.opts:
                if opt.startswith("--"):
                    out[opt[2:]] = param
    return out


def defaults(
    command: click.Command,
    section: str,
    path: Path,
    ctx: click.Context | None = None,
    reserved: Collection[str] = (),
) -> dict[str, Any]:
    """The ``default_map`` of ``command`` from the file: every value checked, paths made
    relative to the file's directory."""
    doc = read(path)
    known = option_keys(command)
    picked: dict[str, Any] = {}
    command_name = f"kopsync {section.replace('-', ' ')}"
    for key, value in doc.items():
        if key in reserved:
            continue
        if key in SECTIONS:
            if not isinstance(value, dict):
                _fail(f"{path}: key '{key}' must be a table, [{key}]")
            if key != section:
                continue  # another process's
            for k, v in value.items():
                if k not in known:
                    _fail(f"{path}: unknown key '{k}' in [{section}] (not an option of "
                          f"`{command_name}`)")  # fmt: skip
                picked[k] = v  # the command's own table wins over the top level
            continue
        if key not in known:
            if key in SHARED:
                continue  # another process's
            _fail(
                f"{path}: unknown key '{key}' (not an option of `{command_name}`; a key "
                f"for one command only goes under its table, e.g. [{section}])"
            )
        picked.setdefault(key, value)
    out: dict[str, Any] = {}
    for key, value in picked.items():
        param = known[key]
        assert param.name is not None
        out[param.name] = _checked(param, key, value, path, ctx)
    return out


def _checked(
    param: click.Option, key: str, value: Any, path: Path, ctx: click.Context | None
) -> Any:
    """``value`` as the option takes it, or one line naming the key and the file."""
    kind = param.type
    if param.is_flag and not isinstance(value, bool):
        _fail(f"{path}: key '{key}' must be true or false, not {value!r}")
    wanted: tuple[type, ...]
    if param.is_flag:
        wanted = (bool,)
    elif isinstance(kind, click.types.IntParamType):
        wanted = (int,)
    elif isinstance(kind, click.types.FloatParamType):
        wanted = (int, float)
    else:
        wanted = (str,)
    if isinstance(value, bool) != (bool in wanted) or not isinstance(value, wanted):
        what = {bool: "true or false", int: "a whole number", str: "a string"}
        _fail(f"{path}: key '{key}' must be {what.get(wanted[-1], 'a number')}, not {value!r}")
    if isinstance(kind, click.Path) and isinstance(value, str):
        value = str(path.parent / Path(value).expanduser())
    try:
        return param.type_cast_value(ctx, value) if ctx is not None else value
    except click.BadParameter as exc:
        _fail(f"{path}: key '{key}': {exc.message}")


def settings_from(cls: type[Any]) -> Callable[[F], F]:
    """Build one frozen ``cls`` (a dataclass) from the command's resolved options whose
    names are its fields, and call the command with it as ``settings``."""
    assert is_dataclass(cls)
    names = {f.name for f in fields(cls)}

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            mine = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            return func(*args, settings=cls(**mine), **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(exits.USAGE)
