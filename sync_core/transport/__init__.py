"""The NATS adapter both sides share: connection, credentials, guarded operations, stopping.

The rest of :mod:`sync_core` is pure; this sub-package is where its I/O lives. Every kopsync
client connects through :class:`Link` with one :class:`ConnectOptions`.
"""

from sync_core.transport.link import (
    AuthRefused,
    Link,
    NoResponders,
    TlsRefused,
    connected,
    translate,
)
from sync_core.transport.options import ConnectOptions, TlsFiles, tls_kwargs

__all__ = [
    "AuthRefused",
    "ConnectOptions",
    "Link",
    "NoResponders",
    "TlsFiles",
    "TlsRefused",
    "connected",
    "tls_kwargs",
    "translate",
]
