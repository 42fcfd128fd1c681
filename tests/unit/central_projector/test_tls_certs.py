"""``kopsync admin tls``: a CA, server and client certificates, their files and bad input."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from central_projector.security import certs
from kopsync.cli.main import cli
from sync_core.errors import StoreExists, UsageError


def _admin(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["admin", "tls", *args])
    return result.exit_code, result.output


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_server_certificate_names_its_hosts_and_chains_to_the_ca(tmp_path: Path) -> None:
    """The server certificate carries every DNS name and IP as SANs and is signed by the CA."""
    certs.make_ca(tmp_path / "ca")
    issued = certs.make_server(
        tmp_path / "ca", tmp_path / "srv", ["nats-1.kalteng.example", "10.0.0.5", "::1"]
    )
    cert, ca = _load(issued.cert), _load(tmp_path / "ca" / "ca.crt")
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["nats-1.kalteng.example"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("::1"),
    ]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage and ExtendedKeyUsageOID.CLIENT_AUTH in usage
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca


def test_keys_are_private_and_certificates_readable(tmp_path: Path) -> None:
    """Every key file is 0600 in a 0700 directory made for it; certificates are 0644."""
    ca = certs.make_ca(tmp_path / "ca")
    client = certs.make_client(tmp_path / "ca", tmp_path / "clients", "kasir-1")
    for key in (ca.key, client.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    for cert in (ca.cert, client.cert):
        assert stat.S_IMODE(cert.stat().st_mode) == 0o644
    assert _load(client.cert).subject.rfc4514_string() == "CN=kasir-1"


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    """A second CA or certificate into the same place is refused; the first stays intact."""
    ca = certs.make_ca(tmp_path / "ca")
    before = ca.key.read_bytes()
    with pytest.raises(StoreExists):
        certs.make_ca(tmp_path / "ca")
    assert ca.key.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["server", "--name", "bad name"], "neither a host name nor an IP address"),
        (["server", "--name", "-x-.example"], "neither a host name nor an IP address"),
        (["client", "--name", "a b"], "is not usable"),
        (["server", "--name", "ok.example", "--days", "0"], "--days must be at least 1"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path: Path, args: list[str], says: str) -> None:
    """Bad names and validity are refused with one `error:` line and exit 2, nothing written."""
    code, _ = _admin("ca", "--out", str(tmp_path / "ca"))
    assert code == 0
    code, out = _admin(
        *args[:1], "--ca", str(tmp_path / "ca"), "--out", str(tmp_path / "o"), *args[1:]
    )
    assert code == 2
    assert out.startswith("error: ") and says in out and out.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_missing_or_mismatched_ca_is_named(tmp_path: Path) -> None:
    """No CA, or a CA key that is not the certificate's, is one clear error."""
    code, out = _admin("server", "--ca", str(tmp_path / "none"), "--out", str(tmp_path / "o"),
                       "--name", "x.example")  # fmt: skip
    assert code == 2 and "make the CA first with `kopsync admin tls ca`" in out
    certs.make_ca(tmp_path / "a")
    certs.make_ca(tmp_path / "b")
    (tmp_path / "a" / "ca.key").unlink()
    (tmp_path / "a" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    with pytest.raises(UsageError, match="is not the key of"):
        certs.make_client(tmp_path / "a", tmp_path / "o", "kasir-1")
