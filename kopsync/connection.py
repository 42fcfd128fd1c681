"""NATS connection options from command-line flags and the environment.

The one place that reads the NATS environment variables; what it builds
(:class:`sync_core.transport.ConnectOptions`) is passed down to every client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sync_core.transport.options import ConnectOptions, TlsFiles

NKEY_ENV = "KOPSYNC_NATS_NKEY"  # an nkey seed file
CREDS_ENV = "KOPSYNC_NATS_CREDS"  # a NATS .creds file
INBOX_ENV = "KOPSYNC_NATS_INBOX"  # the reply-subject prefix a client's permissions allow
TLS_CA_ENV = "KOPSYNC_NATS_TLS_CA"  # the CA file the server's certificate must chain to
TLS_CERT_ENV = "KOPSYNC_NATS_TLS_CERT"  # a client certificate, for servers that verify clients
TLS_KEY_ENV = "KOPSYNC_NATS_TLS_KEY"  # its key


@dataclass(frozen=True, slots=True)
class TlsFlags:
    """``--tls-ca``, ``--tls-cert``, ``--tls-key`` as given on the command line (or not)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


def tls_files(flags: TlsFlags | None = None, environ: Mapping[str, str] = os.environ) -> TlsFiles:
    """The TLS files: each flag given, else its environment variable, else none."""
    f = flags or TlsFlags()
    return TlsFiles(
        ca_file=f.ca or environ.get(TLS_CA_ENV) or None,
        cert_file=f.cert or environ.get(TLS_CERT_ENV) or None,
        key_file=f.key or environ.get(TLS_KEY_ENV) or None,
    )


def nats_connection(
    url: str,
    name: str,
    *,
    credentials: str | None = None,
    nkey: str | None = None,
    inbox_prefix: str | None = None,
    tls: TlsFlags | None = None,
    environ: Mapping[str, str] = os.environ,
) -> ConnectOptions:
    """Options for one client: the flags given, else the environment's, else none.

    ``inbox_prefix`` given by the caller (a device's or a partner's own) wins over
    ``$KOPSYNC_NATS_INBOX``; without either, nats-py's ``_INBOX`` (the central's).
    TLS is on when the URL is ``tls://`` (:func:`sync_core.transport.options.tls_kwargs`).
    """
    files = tls_files(tls, environ)
    return ConnectOptions.for_url(
        url,
        name=name,
        credentials=credentials or environ.get(CREDS_ENV) or None,
        nkey_seed=nkey or environ.get(NKEY_ENV) or None,
        inbox_prefix=inbox_prefix or environ.get(INBOX_ENV) or None,
        tls=files if files.given else None,
    )
