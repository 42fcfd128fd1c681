"""How a kopsync client authenticates to NATS: nkey seed files and inbox prefixes.

The server (``deploy/nats/auth/``) knows each device, partner and the central by an nkey: an
Ed25519 key whose seed stays with the client in a file of mode 0600. Its permissions allow a
client to subscribe only under its own inbox prefix (:mod:`sync_core.protocol`), so the
client must tell nats-py to use that prefix for every reply subject (requests, JetStream
publishes, pull fetches); with the default ``_INBOX`` it would get a permissions violation on
its first request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sync_core.errors import UsageError

NKEY_ENV = "KOPSYNC_NATS_NKEY"
INBOX_ENV = "KOPSYNC_NATS_INBOX"


def read_seed_file(path: str | Path) -> str:
    """The nkey seed in ``path``, checked to be a user seed (``SU…``) kept private."""
    p = Path(path)
    try:
        text = p.read_text().strip()
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"nkey seed file {p} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read nkey seed file {p}: {exc.strerror}") from None
    if not text.startswith("SU"):
        raise UsageError(f"{p} is not an nkey user seed (it should start with 'SU')")
    # Group access is left to the operator (a service group may need it); others never.
    if mode & 0o007:
        raise UsageError(f"nkey seed file {p} is open to other users: chmod 600 {p}")
    return text


def connect_options(nkey_seed_file: str | None, inbox_prefix: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``nats.aio.client.Client.connect`` (merge them into the others).

    ``nkey_seed_file`` (or ``$KOPSYNC_NATS_NKEY`` when ``None``): the client signs the server's
    nonce with it. ``inbox_prefix`` (or ``$KOPSYNC_NATS_INBOX``): see the module docstring;
    with an nkey and no prefix, nats-py's default ``_INBOX`` is used, which only the central's
    permissions allow. No seed and no prefix: no options (an open development server).
    """
    seed_file = nkey_seed_file or os.environ.get(NKEY_ENV) or None
    prefix = inbox_prefix or os.environ.get(INBOX_ENV) or None
    options: dict[str, Any] = {}
    if seed_file:
        read_seed_file(seed_file)  # fail here with a clear message, not inside nats-py
        options["nkeys_seed"] = str(seed_file)
    if prefix:
        options["inbox_prefix"] = prefix
    return options
