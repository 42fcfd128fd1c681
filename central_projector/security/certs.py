"""A private certificate authority for the province's NATS links, and the certificates it signs.

NATS identities stay nkeys; TLS only encrypts the link and proves the *server* to clients
(and, where a server asks for it, a client to the server). One CA per installation, made
once by ``kopsync admin tls ca``; its public certificate (``ca.crt``) is pinned by every
client (``--tls-ca``), its key (``ca.key``) signs server and client certificates and never
leaves the administrator's machine.

Keys are ECDSA P-256: small handshakes over a satellite link and fast on a Raspberry Pi.
Every private key is written once, to a new file of mode 0600 in a directory of mode 0700
when this makes the directory; certificates are 0644. Nothing existing is overwritten.

::

    DIR/ca.crt  DIR/ca.key                  make_ca
    OUT/server.crt  OUT/server.key          make_server   (SANs: DNS names and IP addresses)
    OUT/NAME.crt  OUT/NAME.key              make_client   (clientAuth, CN = NAME)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync_core.errors import StoreExists, UsageError

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_NAME = "server"
CA_DAYS = 3650
LEAF_DAYS = 825  # the longest leaf validity browsers and most TLS stacks still accept
_SKEW = dt.timedelta(minutes=5)  # a device clock a little behind still accepts a fresh cert
# A DNS name: labels of letters, digits and hyphens (a leading "*." for a wildcard).
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")
# A server's certificate also serves it as a client: a cluster node dials its peers' routes
# and a leaf node its hub with the same certificate, and peers verify it.
_NODE_USAGE = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
_CLIENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate written with its key."""

    cert: Path
    key: Path
    subject: str
    not_after: dt.datetime
    names: tuple[str, ...] = ()


def make_ca(
    out: Path,
    name: str = "kopsync NATS CA",
    *,
    days: int = CA_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    """A new self-signed CA in ``out`` (``ca.crt``, ``ca.key``)."""
    _check_days(days)
    if not name.strip():
        raise UsageError("the CA name is empty: give --name, e.g. 'Kalteng kopsync CA'")
    cert_path, key_path = out / CA_CERT, out / CA_KEY
    _refuse_existing(cert_path, key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name.strip())])
    start = (now or dt.datetime.now(dt.UTC)) - _SKEW
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(out, cert_path, key_path, cert, key)
    return Issued(cert_path, key_path, name.strip(), cert.not_valid_after_utc)


def make_server(
    ca_dir: Path,
    out: Path,
    names: Sequence[str],
    *,
    days: int = LEAF_DAYS,
    file_name: str = SERVER_NAME,
    now: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A server certificate for ``names`` (host names and IP addresses), signed by the CA;
    good for the node's own routes and leaf connections too (client authentication).

    ``not_after`` (tests: an expired certificate) overrides ``days``.
    """
    if not names:
        raise UsageError(
            "a server certificate needs at least one name: --name HOST or --name IP "
            "(every name clients use in their URLs)"
        )
    sans = [_san(n) for n in names]
    first = names[0].strip()
    return _leaf(ca_dir, out, file_name, first, sans, _NODE_USAGE, days, now, not_after)


def make_client(
    ca_dir: Path,
    out: Path,
    name: str,
    *,
    days: int = LEAF_DAYS,
    now: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A client certificate with common name ``name`` (a device, partner or service)."""
    if not _CLIENT.match(name):
        raise UsageError(
            f"client name {name!r} is not usable: letters, digits, '.', '_' or '-', "
            "at most 64, e.g. a device id"
        )
    return _leaf(
        ca_dir, out, name, name, [], [ExtendedKeyUsageOID.CLIENT_AUTH], days, now, not_after
    )


def load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate and key in ``ca_dir``, checked to belong together."""
    cert_path, key_path = ca_dir / CA_CERT, ca_dir / CA_KEY
    for p in (cert_path, key_path):
        if not p.is_file():
            raise UsageError(f"{p} does not exist: make the CA first with `kopsync admin tls ca`")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{ca_dir} does not hold a PEM CA certificate and key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UsageError(f"{key_path} is not an EC private key made by `kopsync admin tls ca`")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise UsageError(f"{key_path} is not the key of {cert_path}")
    return cert, key


def _leaf(
    ca_dir: Path,
    out: Path,
    file_name: str,
    common_name: str,
    sans: list[x509.GeneralName],
    usage: list[x509.ObjectIdentifier],
    days: int,
    now: dt.datetime | None,
    not_after: dt.datetime | None,
) -> Issued:
    _check_days(days)
    ca_cert, ca_key = load_ca(ca_dir)
    cert_path, key_path = out / f"{file_name}.crt", out / f"{file_name}.key"
    _refuse_existing(cert_path, key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    start = (now or dt.datetime.now(dt.UTC)) - _SKEW
    end = not_after or start + dt.timedelta(days=days)
    if end <= start:
        start = end - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write(out, cert_path, key_path, cert, key)
    names = tuple(str(s.value) for s in sans)
    return Issued(cert_path, key_path, common_name, cert.not_valid_after_utc, names)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates and nothing else; a leaf signs its handshakes (ECDSA)."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _san(name: str) -> x509.GeneralName:
    text = name.strip()
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not _DNS.match(text) or len(text) > 253:
        raise UsageError(
            f"{name!r} is neither a host name nor an IP address: give names as clients "
            "write them in their URLs, e.g. --name nats-1.kalteng.example --name 10.0.0.5"
        )
    return x509.DNSName(text.lower())


def _check_days(days: int) -> None:
    if days < 1:
        raise UsageError(f"--days must be at least 1 (got {days})")


def _refuse_existing(*paths: Path) -> None:
    for p in paths:
        if p.exists():
            raise StoreExists(f"{p} exists already; refusing to overwrite a certificate or key")


def _write(
    out: Path,
    cert_path: Path,
    key_path: Path,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
) -> None:
    if not out.exists():
        out.mkdir(parents=True, mode=0o700)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(key_path, pem_key, 0o600)
    _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise StoreExists(f"{path} exists already; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, mode)  # the umask may have taken bits the file must have (0644 certs)
