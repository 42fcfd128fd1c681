"""NATS connection options from a command's resolved settings.

A command's flags, ``KOPSYNC_NATS_*`` variables and ``--config`` file are resolved once
when it starts (:mod:`kopsync.cli.config`); what this builds from them
(:class:`sync_core.transport.ConnectOptions`) is passed down to every client. Nothing here
reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.transport.options import ConnectOptions, TlsFiles

# The variables of the NATS options (kopsync.cli.common), read by click with the flags.
NKEY_ENV = "KOPSYNC_NATS_NKEY"  # an nkey seed file
CREDS_ENV = "KOPSYNC_NATS_CREDS"  # a NATS .creds file
INBOX_ENV = "KOPSYNC_NATS_INBOX"  # the reply-subject prefix a client's permissions allow
TLS_CA_ENV = "KOPSYNC_NATS_TLS_CA"  # the CA file the server's certificate must chain to
TLS_CERT_ENV = "KOPSYNC_NATS_TLS_CERT"  # a client certificate, for servers that verify clients
TLS_KEY_ENV = "KOPSYNC_NATS_TLS_KEY"  # its key


@dataclass(frozen=True, slots=True)
class TlsFlags:
    """``--tls-ca``, ``--tls-cert``, ``--tls-key`` as resolved (flag, variable or file)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


def tls_files(flags: TlsFlags | None = None) -> TlsFiles:
    """The TLS files given, if any."""
    f = flags or TlsFlags()
    return TlsFiles(ca_file=f.ca or None, cert_file=f.cert or None, key_file=f.key or None)


def nats_connection(
    url: str,
    name: str,
    *,
    credentials: str | None = None,
    nkey: str | None = None,
    inbox_prefix: str | None = None,
    tls: TlsFlags | None = None,
) -> ConnectOptions:
    """Options for one client. Without ``inbox_prefix``, nats-py's ``_INBOX`` (the
    central's). TLS is on when the URL is ``tls://``
    (:func:`sync_core.transport.options.tls_kwargs`)."""
    files = tls_files(tls)
    return ConnectOptions.for_url(
        url,
        name=name,
        credentials=credentials or None,
        nkey_seed=nkey or None,
        inbox_prefix=inbox_prefix or None,
        tls=files if files.given else None,
    )


@dataclass(frozen=True, slots=True)
class NatsClient:
    """How a process reaches NATS: the part of its settings every client shares."""

    nats_url: str | None
    credentials: str | None
    nkey: str | None
    nats_inbox: str | None
    tls: TlsFlags

    def connection(self, name: str, url: str | None = None) -> ConnectOptions:
        """Options for the client ``name``, to ``url`` (default: ``nats_url``)."""
        url = url or self.nats_url
        assert url is not None
        return nats_connection(
            url,
            name,
            credentials=self.credentials,
            nkey=self.nkey,
            inbox_prefix=self.nats_inbox,
            tls=self.tls,
        )
