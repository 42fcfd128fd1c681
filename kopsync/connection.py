"""NATS connection options from command-line flags and the environment.

The one place that reads the NATS environment variables; what it builds
(:class:`sync_core.transport.ConnectOptions`) is passed down to every client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sync_core.transport.options import ConnectOptions

NKEY_ENV = "KOPSYNC_NATS_NKEY"  # an nkey seed file
CREDS_ENV = "KOPSYNC_NATS_CREDS"  # a NATS .creds file
INBOX_ENV = "KOPSYNC_NATS_INBOX"  # the reply-subject prefix a client's permissions allow


def nats_connection(
    url: str,
    name: str,
    *,
    credentials: str | None = None,
    nkey: str | None = None,
    inbox_prefix: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> ConnectOptions:
    """Options for one client: the flags given, else the environment's, else none.

    ``inbox_prefix`` given by the caller (a device's or a partner's own) wins over
    ``$KOPSYNC_NATS_INBOX``; without either, nats-py's ``_INBOX`` (the central's).
    """
    return ConnectOptions.for_url(
        url,
        name=name,
        credentials=credentials or environ.get(CREDS_ENV) or None,
        nkey_seed=nkey or environ.get(NKEY_ENV) or None,
        inbox_prefix=inbox_prefix or environ.get(INBOX_ENV) or None,
    )
