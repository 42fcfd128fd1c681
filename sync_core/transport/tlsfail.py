"""What went wrong in a TLS handshake, said in one line with what to do about it.

A TLS failure does not heal by retrying the same connect: the server's certificate is not
signed by the pinned CA, it has expired, it names another host, the server speaks no TLS,
or it refused our client certificate. :class:`~sync_core.transport.link.Link` fails a
connect at once on one (a service retries it every few seconds, as refused credentials)
with the sentence :func:`describe` makes.
"""

from __future__ import annotations

import logging
import ssl

from sync_core.transport.options import TlsFiles


class _TlsEofNoise(logging.Filter):
    """Drop asyncio's warning that nats-py's stream protocol asks to half-close a TLS
    connection (it cannot be, and nothing is lost): on every close of a ``tls://`` link it
    would print a line people would take for an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_TlsEofNoise())


def is_tls_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a failed TLS handshake."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 5:
        if isinstance(e, ssl.SSLError):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def is_lasting(exc: BaseException) -> bool:
    """Whether a failed handshake will fail the same way again: the server's certificate did
    not verify, or the peer answered with an alert (it refused ours, or our TLS).

    Anything else (the connection closed mid-handshake, plaintext where TLS was expected
    because a slow ClientHello lost the race against the server's greeting) may pass: it is
    retried like a broken connection, and reported with :func:`describe` if it persists.
    """
    err = _ssl_error(exc)
    if err is None:
        return False
    return isinstance(err, ssl.SSLCertVerificationError) or "ALERT" in str(err.reason or "")


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    e: BaseException | None = exc
    for _ in range(5):
        if e is None or isinstance(e, ssl.SSLError):
            return e
        e = e.__cause__ or e.__context__
    return None


class Handshakes:
    """The failed TLS handshakes of one connect: the first that lasts, and the last one."""

    def __init__(self) -> None:
        self.lasting: BaseException | None = None
        self.last: BaseException | None = None

    def note(self, exc: BaseException, *, connect_failed: bool = False) -> None:
        """Remember ``exc`` if it is a failed handshake. ``connect_failed``: ``exc`` ended a
        connect attempt, so one that failed otherwise (not a timeout, which may hide a
        handshake the client's callback reported) means the link, not TLS, failed last."""
        if is_tls_failure(exc):
            self.last = exc
            if self.lasting is None and is_lasting(exc):
                self.lasting = exc
        elif connect_failed and not isinstance(exc, TimeoutError):
            self.last = None


def describe(exc: BaseException, url: str, tls: TlsFiles | None, encrypted: bool) -> str:
    """One line for a failed handshake with the server(s) at ``url``.

    ``encrypted``: the client asked for TLS (``tls://`` URLs); otherwise the server asked
    for it and nats-py tried it with the system's CAs.
    """
    err = _ssl_error(exc)
    if not encrypted:
        return (
            f"the NATS server at {url} requires TLS: connect with a tls:// URL and the "
            "installation's CA (--tls-ca ca.crt or $KOPSYNC_NATS_TLS_CA)"
        )
    ca = f"the CA in {tls.ca_file}" if tls is not None and tls.ca_file else "this system's CAs"
    if isinstance(err, ssl.SSLCertVerificationError):
        why = str(err.verify_message or err.reason or err)
        if "expired" in why:
            return (
                f"the NATS server at {url} presents an expired certificate: the server's "
                "operator must renew it (kopsync admin tls server)"
            )
        if "not yet valid" in why:
            return (
                f"the NATS server at {url} presents a certificate that is not valid yet: "
                "is this machine's clock right?"
            )
        if "hostname" in why.lower() or "ip address mismatch" in why.lower():
            return (
                f"the certificate of the NATS server at {url} is not made for that name "
                f"({why}): use the name it was made for, or make one with --name for it"
            )
        return (
            f"the NATS server at {url} presents a certificate not signed by {ca} ({why}): "
            "is --tls-ca the installation's ca.crt, and the URL that server's?"
        )
    reason = str(getattr(err, "reason", None) or err or exc)
    text = reason.lower()
    if "wrong_version" in text or "wrong version" in text or "record_layer" in text:
        return (
            f"the NATS server at {url} does not speak TLS first: enable its tls {{}} block "
            "with handshake_first (deploy/nats), or use a nats:// URL on a trusted network"
        )
    if "expired" in text:
        return (
            f"the NATS server at {url} refused our client certificate as expired: make a new "
            "one (kopsync admin tls client) and give it with --tls-cert/--tls-key"
        )
    if "certificate" in text or "unknown ca" in text or "bad_certificate" in text:
        return (
            f"the NATS server at {url} refused our client certificate ({reason}): give one "
            "signed by its CA with --tls-cert and --tls-key (kopsync admin tls client)"
        )
    return f"the TLS handshake with the NATS server at {url} failed ({reason})"
