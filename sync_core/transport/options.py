"""How a kopsync client connects to NATS: servers, name, credentials, inbox prefix, TLS.

The server (``deploy/nats/auth/``) knows each device, partner and the central by an nkey: an
Ed25519 key whose seed stays with the client in a file of mode 0600. Its permissions allow a
client to subscribe only under its own inbox prefix (:mod:`sync_core.protocol`), so the
client must tell nats-py to use that prefix for every reply subject (requests, JetStream
publishes, pull fetches); with the default ``_INBOX`` it would get a permissions violation on
its first request.

Nothing here reads the environment: the composition root (``kopsync``) turns flags and
environment variables into one :class:`ConnectOptions` and passes it down.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sync_core.errors import UsageError


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """TLS to the server: the CA file its certificate must chain to (pinned: the system's
    store is not consulted when one is given), and a client certificate and key if the
    server asks for one. Files are read when a client connects.

    ``exact``: ``ca_file`` is the server's own certificate, trusted as it is whatever name it
    was issued for (a process reaching the server it runs over loopback, where the
    certificate names the LAN host, not ``127.0.0.1``)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    exact: bool = False

    def context(self) -> ssl.SSLContext:
        if (self.cert_file is None) != (self.key_file is None):
            raise UsageError(
                "a TLS client certificate needs both its certificate and key file "
                "(--tls-cert and --tls-key)"
            )
        try:
            # cafile given: only that CA is trusted (no default system certificates)
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.exact:
                ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
                ctx.check_hostname = False
            if self.cert_file is not None:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except FileNotFoundError as exc:
            raise UsageError(f"TLS file {exc.filename or self.ca_file} does not exist") from None
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot use the TLS files ({exc})") from None
        return ctx

    @property
    def given(self) -> bool:
        return any((self.ca_file, self.cert_file, self.key_file))


def tls_kwargs(servers: Sequence[str], tls: TlsFiles | None) -> dict[str, Any]:
    """The TLS keyword arguments of ``Client.connect`` for ``servers``.

    TLS is on exactly when the URLs say ``tls://`` (all of them: a cluster is not half
    encrypted). The client then starts the TLS handshake before the server says anything
    (``tls_handshake_first``; the servers of ``deploy/nats`` accept it), so the server's
    certificate is checked before a byte of the protocol, the nkey signature included,
    crosses the link, and no one on the path can talk the client down to plaintext (nats-py
    alone would send everything in clear to a server whose INFO does not ask for TLS).
    Files given for plaintext URLs are a mistake, refused rather than ignored.
    """
    schemes = {urlsplit(s).scheme if "://" in s else "nats" for s in servers}
    if "tls" not in schemes:
        if tls is not None and tls.given:
            plain = ", ".join(servers)
            raise UsageError(
                f"TLS files are given but the NATS URL is not tls:// ({plain}): write it as "
                "tls://HOST:PORT"
            )
        return {}
    if schemes != {"tls"}:
        raise UsageError(
            "every NATS URL must be tls:// when one is (a cluster is not half encrypted): "
            + ", ".join(servers)
        )
    return {"tls": (tls or TlsFiles()).context(), "tls_handshake_first": True}


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """Where and as whom one client connects.

    ``servers``: the URLs of one server or of a cluster's nodes (any of them will do);
    ``tls://`` URLs encrypt the link, verified against ``tls`` (:func:`tls_kwargs`).
    ``credentials``: a NATS ``.creds`` file. ``nkey_seed``: an nkey seed file (the client signs
    the server's nonce with it). ``nkey_seed_value``: a seed held in memory instead (a
    process's own user, made at start and never written down). ``inbox_prefix``: the prefix
    of every reply subject; ``None`` keeps nats-py's ``_INBOX``, which only the central's
    permissions allow.
    ``js_api_prefix``: where the JetStream API is (``None``: ``$JS.API``, the client's own
    account's; a device on the secured server imports the central's, see
    :data:`sync_core.protocol.DEVICE_JS_API`).
    A black-holed link is noticed after ``ping_interval_s * max_outstanding_pings``.
    """

    servers: tuple[str, ...]
    name: str = "kopsync"
    credentials: str | None = None
    nkey_seed: str | None = None
    nkey_seed_value: str | None = field(default=None, repr=False)
    inbox_prefix: str | None = None
    tls: TlsFiles | None = None
    js_api_prefix: str | None = None
    ping_interval_s: int = 10
    max_outstanding_pings: int = 3
    reconnect_wait_s: float = 0.5

    @classmethod
    def for_url(cls, url: str, **fields: Any) -> ConnectOptions:
        """Options for ``url`` (a cluster as comma-separated URLs)."""
        return cls(tuple(u.strip() for u in url.split(",") if u.strip()), **fields)

    @property
    def url(self) -> str:
        return ",".join(self.servers)

    @property
    def authenticated(self) -> bool:
        """Whether the client presents a credential (a secured server, not an open one)."""
        return bool(self.nkey_seed or self.nkey_seed_value or self.credentials)

    def but(self, **changes: Any) -> ConnectOptions:
        """These options with some fields changed (a name, an inbox prefix, a wait)."""
        return replace(self, **changes)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.aio.client.Client.connect``, callbacks and reconnect
        policy aside (the link adds those)."""
        kwargs: dict[str, Any] = {
            "servers": list(self.servers),
            "name": self.name,
            "reconnect_time_wait": self.reconnect_wait_s,
            "ping_interval": self.ping_interval_s,
            "max_outstanding_pings": self.max_outstanding_pings,
        }
        if self.credentials:
            kwargs["user_credentials"] = self.credentials
        if self.nkey_seed_value:
            kwargs["nkeys_seed_str"] = self.nkey_seed_value
        kwargs |= tls_kwargs(self.servers, self.tls)
        return kwargs | connect_options(self.nkey_seed, self.inbox_prefix)


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
    """The authentication keyword arguments for ``Client.connect``: the seed file (checked
    here, so a bad one fails with a clear message, not inside nats-py) and the inbox prefix.
    Neither: no options (an open development server)."""
    options: dict[str, Any] = {}
    if nkey_seed_file:
        read_seed_file(nkey_seed_file)
        options["nkeys_seed"] = str(nkey_seed_file)
    if inbox_prefix:
        options["inbox_prefix"] = inbox_prefix
    return options
