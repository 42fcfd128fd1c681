"""A throw-away PKI for tests: a CA, a server certificate for loopback, client certificates.

Made by the same code as ``kopsync admin tls`` (:mod:`central_projector.security.certs`), so
the tests run the certificates an installation would have.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from central_projector.security import certs
from sync_core.transport import TlsFiles

HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True, slots=True)
class Pki:
    """Where one test PKI lives: ``ca/``, ``server/``, ``clients/``."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca" / certs.CA_CERT

    @property
    def server_cert(self) -> Path:
        return self.root / "server" / f"{certs.SERVER_NAME}.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server" / f"{certs.SERVER_NAME}.key"

    def client_tls(self, name: str | None = None) -> TlsFiles:
        """The files a client pins the CA with (and presents ``name``'s certificate with)."""
        if name is None:
            return TlsFiles(ca_file=str(self.ca))
        cert = self.root / "clients" / f"{name}.crt"
        if not cert.exists():
            certs.make_client(self.root / "ca", self.root / "clients", name)
        return TlsFiles(str(self.ca), str(cert), str(cert.with_suffix(".key")))

    def expired_client(self, name: str) -> TlsFiles:
        """A client certificate of this CA that expired yesterday."""
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        issued = certs.make_client(
            self.root / "ca", self.root / "expired", name, not_after=yesterday
        )
        return TlsFiles(str(self.ca), str(issued.cert), str(issued.key))


def make_pki(root: Path, hosts: tuple[str, ...] = HOSTS, *, server_expired: bool = False) -> Pki:
    """A new CA and a server certificate for ``hosts`` under ``root`` (expired if asked)."""
    pki = Pki(root)
    certs.make_ca(root / "ca", "kopsync test CA")
    not_after = dt.datetime.now(dt.UTC) - dt.timedelta(days=1) if server_expired else None
    certs.make_server(root / "ca", root / "server", hosts, not_after=not_after)
    return pki


def server_tls_block(pki: Pki, *, verify: bool = False, handshake_first: str = "2s") -> str:
    """The client-port ``tls {}`` block of a nats-server configuration for ``pki``."""
    return (
        "tls {\n"
        f'  cert_file: "{pki.server_cert}"\n'
        f'  key_file: "{pki.server_key}"\n'
        f'  ca_file: "{pki.ca}"\n'
        f"  verify: {'true' if verify else 'false'}\n"
        f'  handshake_first: "{handshake_first}"\n'
        "  timeout: 5\n"
        "}\n"
    )
