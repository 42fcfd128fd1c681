"""The registry and the include file on disk: read, change under a lock, write atomically.

``users.conf`` (what nats-server includes) and ``users.json`` (the registry it is made from)
sit side by side. A change takes an exclusive lock, writes the registry first and then the
include file, each through a temporary file and a rename, so the server never reads half a
file; if the second write fails, ``kopsync admin render`` makes it again from the registry.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from central_projector.security.registry import AuthRegistry
from central_projector.security.render import render
from sync_core.errors import UsageError

DEFAULT_AUTH_FILE = "deploy/nats/auth/users.conf"
AUTH_ENV = "KOPSYNC_NATS_AUTH"


def registry_path(auth_file: Path) -> Path:
    return auth_file.with_suffix(".json")


def load(auth_file: Path) -> AuthRegistry:
    """The registry beside ``auth_file``; an empty one if there is none yet."""
    path = registry_path(auth_file)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return AuthRegistry()
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the NATS user registry {path}: {exc}") from None
    return AuthRegistry.from_json(doc, str(path))


def change(auth_file: Path, step: Callable[[AuthRegistry], AuthRegistry]) -> AuthRegistry:
    """Apply ``step`` to the registry under a lock and write registry and include file."""
    auth_file.parent.mkdir(parents=True, exist_ok=True)
    with _locked(auth_file):
        new = step(load(auth_file))
        text = render(new, registry_path(auth_file).name)  # fails before anything is written
        _write_atomic(registry_path(auth_file), json.dumps(new.to_json(), indent=2) + "\n")
        _write_atomic(auth_file, text)
    return new


def write_conf(auth_file: Path) -> AuthRegistry:
    """Regenerate the include file from the registry as it is."""
    return change(auth_file, lambda registry: registry)


@contextlib.contextmanager
def _locked(auth_file: Path) -> Iterator[None]:
    lock = auth_file.with_name(auth_file.name + ".lock")
    with lock.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    # Readable by the server's user and operators; holds public keys only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
