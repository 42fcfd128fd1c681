"""A TCP proxy that records every byte between a client and a server: a tap on the link.

What an eavesdropper on a satellite link would see. :func:`readable` also opens every zstd
frame it finds in the bytes (uploads are zstd-compressed msgpack), as an eavesdropper would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import zstandard

from kopsync.devnats import HOST

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Tap:
    """Listens on a free port of 127.0.0.1 and forwards to ``(host, port)``, recording."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.recorded = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Tap:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, scheme: str) -> str:
        return f"{scheme}://{HOST}:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        for a, b in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(a, b))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                self.recorded += data
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()


def readable(data: bytes) -> bytes:
    """``data`` and the contents of every zstd frame in it that opens."""
    out = [data]
    start = data.find(_ZSTD_MAGIC)
    while start >= 0:
        with contextlib.suppress(zstandard.ZstdError):
            out.append(zstandard.ZstdDecompressor().decompressobj().decompress(data[start:]))
        start = data.find(_ZSTD_MAGIC, start + 1)
    return b"".join(out)


def seen(secrets: Iterable[str], data: bytes) -> list[str]:
    """The secrets an eavesdropper finds in ``data``."""
    text = readable(data)
    return sorted(s for s in set(secrets) if s.encode() in text)
