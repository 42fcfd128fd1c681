"""How a kopsync client authenticates to NATS, and the names its permissions are cut to.

The server (``deploy/nats/auth/``) knows each device, partner and the central by an nkey: an
Ed25519 key whose seed stays with the client in a file of mode 0600. Its permissions allow a
client to subscribe only under its own inbox prefix, so the client must tell nats-py to use
that prefix for every reply subject (requests, JetStream publishes, pull fetches); with the
default ``_INBOX`` it would get a permissions violation on its first request.

Both sides import the names from here: the edge and partner clients to connect, and
:mod:`central_projector.security.policy` to write the permissions, so they cannot drift.
No NATS import: this module only builds options and names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sync_core.errors import UsageError
from sync_core.ids import check_device_id

NKEY_ENV = "KOPSYNC_NATS_NKEY"
INBOX_ENV = "KOPSYNC_NATS_INBOX"

# Device prefixes are "_INBOX_" + device id, partner prefixes "_PINBOX." + partner id and the
# central keeps nats-py's "_INBOX": none of the three can be spelled as another, whatever the
# ids are (ids never contain '.', and no device prefix is a bare "_INBOX" or starts "_PINBOX").
CENTRAL_INBOX_PREFIX = "_INBOX"
PARTNER_INBOX_ROOT = "_PINBOX"


def device_inbox_prefix(device_id: str) -> str:
    """The only subject prefix a device may subscribe under (its replies arrive there)."""
    return f"_INBOX_{check_device_id(device_id)}"


def partner_inbox_prefix(partner_id: str) -> str:
    """The only inbox prefix a partner may subscribe under."""
    return f"{PARTNER_INBOX_ROOT}.{partner_id}"


def downlink_consumer_name(device_id: str) -> str:
    """The one consumer name on KOP_DOWN a device may create, read and delete.

    A fixed name per device lets the server's permissions name the consumer literally, so a
    device can neither pull from another device's consumer nor create more than one.
    """
    return f"down-{check_device_id(device_id)}"


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
