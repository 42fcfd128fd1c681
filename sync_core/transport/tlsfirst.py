"""A TLS-first connect on a connection that is already gone fails at once instead of hanging.

With ``tls_handshake_first`` nats-py opens the TCP connection and starts TLS on it straight
away. When the peer reset the connection in between (a satellite link that drops, a proxy
refusing while the path is down), asyncio starts the handshake on a transport that is
already closing and waits for an answer that cannot come, until nats-py's connect timeout
(seconds, on every try while a link is down, and once more after it is back). Measured with
the link emulator: 5 s to resume after a cut instead of under 2. Plaintext connects notice
the reset when they read the server's greeting, at once; this makes TLS-first connects do
the same. nats-py 2.16 gives no hook for it, so its TCP transport is wrapped here, once, on
import of the adapter.
"""

from __future__ import annotations

import ssl
from typing import Any

from nats.aio.transport import TcpTransport

_connect_tls = TcpTransport.connect_tls


async def _connect_tls_unless_gone(
    self: TcpTransport, uri: Any, ssl_context: ssl.SSLContext, buffer_size: int, timeout: int
) -> None:
    writer = self._io_writer
    if writer is not None and writer.transport.is_closing():
        raise ConnectionResetError("the connection closed before the TLS handshake began")
    await _connect_tls(self, uri, ssl_context, buffer_size, timeout)


TcpTransport.connect_tls = _connect_tls_unless_gone  # type: ignore[method-assign,assignment]
