"""One NATS connection of a device, with the guards a bad link needs.

A link opens in one of two modes:

- ``allow_reconnect=True`` (the one-shot sync): nats-py reconnects by itself (here forever:
  ``max_reconnect_attempts=-1``; its default gives up after 60 attempts and closes the client)
  and the caller waits for :attr:`Link.up`.
- ``allow_reconnect=False`` (the long-running replicator): a drop closes the link and the caller
  opens a fresh one. :meth:`Link.open` then retries the connect itself, every
  ``reconnect_wait_s``, with a fresh client each time. Over a 600 ms round trip a fresh connect
  (INFO, CONNECT+PING, PONG) is ready in about half the time nats-py's reconnect takes (which
  also re-subscribes and flushes once more before it reports the connection restored).

Either way, a request or a JetStream publish that was in flight when the link dropped is not
failed by the client: it waits for its own timeout. On a link that comes back after a second
that would stall a sync for the whole timeout. So every operation runs through
:meth:`Link.guarded`, which fails it at once when the connection drops (``LinkDown``) or when
its time is up (``SyncTimeout``).

nats errors are translated here, at the boundary, into :mod:`sync_core.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from sync_core.errors import LinkDown, SyncError, SyncTimeout
from sync_core.transport.options import connect_options

T = TypeVar("T")

log = structlog.get_logger("kopsync.edge.link")


class NoResponders(SyncError):
    """Nobody subscribes to the subject of a request (the central service is not running)."""


class AuthRefused(LinkDown):
    """The server refused the client's credentials (none, unknown or revoked).

    A :class:`LinkDown`, so the long-running replicator keeps trying (at its backoff) until an
    administrator registers the device and reloads the server; a one-shot sync fails with it.
    """


class Link:
    """A connected client plus ``up``/``down`` events kept by the client's callbacks."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        credentials: str | None = None,
        nkey: str | None = None,
        inbox_prefix: str | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.credentials = credentials
        self.nkey = (
            nkey  # nkey seed file (else $KOPSYNC_NATS_NKEY): see sync_core.transport.options
        )
        self.inbox_prefix = inbox_prefix  # else $KOPSYNC_NATS_INBOX, else nats-py's _INBOX
        self.nc = Client()
        self.up = asyncio.Event()
        self.down = asyncio.Event()
        self.closed = False
        self._js: JetStreamContext | None = None
        self._refused = asyncio.Event()  # the server said "Authorization Violation" to a connect

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise SyncError("the link is not open")
        return self._js

    async def open(
        self,
        timeout_s: float,
        *,
        reconnect_wait_s: float = 0.5,
        ping_interval_s: int = 10,
        allow_reconnect: bool = True,
    ) -> None:
        """Connect within ``timeout_s`` or raise :class:`LinkDown`.

        With ``allow_reconnect`` the client reconnects by itself after a drop (and nats-py
        retries the first connect every ``reconnect_wait_s``); without, a drop closes the link
        and this method retries the first connect every ``reconnect_wait_s``, each time with a
        fresh client.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            options = self._options(reconnect_wait_s, ping_interval_s, allow_reconnect, timeout_s)
            try:
                left = max(deadline - loop.time(), 0.001)
                await self._connect(options, left)
                break
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                error = exc
            if self._refused.is_set():
                await self.close()
                raise AuthRefused(self._refusal(options)) from error
            if allow_reconnect or deadline - loop.time() <= reconnect_wait_s:
                await self.close()
                raise LinkDown(
                    f"cannot reach the NATS server at {self.url} within {timeout_s:g} s "
                    "(is the link up and the URL right?)"
                ) from error
            log.debug("connect_retry", url=self.url, error=repr(error))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), 5)
            await asyncio.sleep(reconnect_wait_s)
            self.nc = Client()  # a failed client is not reused: its state is half set up
        self._js = self.nc.jetstream()
        self.closed = False
        self.down.clear()
        self.up.set()
        self._watch(self.nc)

    def _watch(self, nc: Client) -> None:
        """Notice the client closing even when nats-py does not call ``closed_cb``.

        On a drop without reconnect, nats-py's ``Client._close`` flushes what is still pending
        to the dead socket before it calls the disconnected and closed callbacks; when that
        flush fails (connection reset), ``_close`` raises out of the read loop and the
        callbacks never run. The client is closed for good, yet ``up`` would stay set and
        ``down`` clear: the replicator would fail every operation on it ("link lost during
        hello") and never open a fresh link. Every way a connected client closes cancels or
        ends its read loop, so its end is checked too.
        """
        task = nc._reading_task
        if task is None:
            return

        def ended(task: asyncio.Task[Any]) -> None:
            if not task.cancelled() and task.exception() is not None:  # retrieved: noted here
                log.debug("nats_read_loop_failed", error=repr(task.exception()))
            if nc is self.nc and nc.is_closed and not self.down.is_set():
                log.warning("link_lost", url=self.url, detail="client closed without callback")
                self.closed = True
                self.up.clear()
                self.down.set()

        task.add_done_callback(ended)

    async def _connect(self, options: dict[str, Any], timeout_s: float) -> None:
        """``nc.connect``, failed at once when the server refuses the credentials.

        With ``allow_reconnect`` nats-py retries a refused connect until the timeout; only its
        error callback hears the refusal.
        """
        self._refused.clear()
        connect = asyncio.ensure_future(self.nc.connect(**options))
        refused = asyncio.ensure_future(self._refused.wait())
        try:
            done, _ = await asyncio.wait(
                {connect, refused}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            refused.cancel()
            if not connect.done():
                connect.cancel()
                with contextlib.suppress(BaseException):
                    await connect
        if connect in done:
            connect.result()
        elif self._refused.is_set():
            raise nats.errors.AuthorizationError
        else:
            raise TimeoutError

    def _refusal(self, options: dict[str, Any]) -> str:
        seed = options.get("nkeys_seed")
        if seed is None and not self.credentials:
            return (
                f"the NATS server at {self.url} requires authentication: give this device's "
                "nkey seed file with --nkey FILE (or $KOPSYNC_NATS_NKEY)"
            )
        what = f"the nkey in {seed}" if seed else f"the credentials in {self.credentials}"
        return (
            f"the NATS server at {self.url} refused {what} (authorization violation): "
            "is this device registered and not revoked (kopsync admin)?"
        )

    def _options(
        self, reconnect_wait_s: float, ping_interval_s: int, allow_reconnect: bool, timeout_s: float
    ) -> dict[str, Any]:
        nc = self.nc

        # Callbacks of a client this link has since replaced must not touch its state.
        async def disconnected() -> None:
            if nc is self.nc:
                await self._on_disconnected()

        async def reconnected() -> None:
            if nc is self.nc:
                await self._on_reconnected()

        async def closed() -> None:
            if nc is self.nc:
                await self._on_closed()

        options: dict[str, Any] = {
            "servers": self.url.split(","),  # a cluster: any of its nodes
            "name": self.name,
            "allow_reconnect": allow_reconnect,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": reconnect_wait_s,
            "connect_timeout": max(1, min(5, int(timeout_s))),
            # A black-holed link is noticed after ping_interval * max_outstanding_pings.
            "ping_interval": ping_interval_s,
            "max_outstanding_pings": 3,
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "closed_cb": closed,
            "error_cb": self._on_error,
        }
        if self.credentials:
            options["user_credentials"] = self.credentials
        options.update(connect_options(self.nkey, self.inbox_prefix))
        return options

    async def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.close(), 5)
        self.up.clear()
        self.down.set()

    async def guarded(self, aw: Awaitable[T], timeout_s: float, what: str) -> T:
        """Await ``aw``; fail it at once if the link drops, or after ``timeout_s``."""
        task = asyncio.ensure_future(aw)
        if self.down.is_set():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise LinkDown(f"link down, {what} not attempted")
        down = asyncio.ensure_future(self.down.wait())
        try:
            done, _ = await asyncio.wait(
                {task, down}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            down.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if task in done:
            try:
                return task.result()
            except Exception as exc:
                raise translate(exc, what) from exc
        if down in done:
            raise LinkDown(f"link lost during {what}")
        raise SyncTimeout(f"{what} got no answer within {timeout_s:g} s")

    async def wait_up(self, timeout_s: float) -> bool:
        """Wait until the client is connected again; ``False`` if it was not in time."""
        if self.closed:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.up.wait(), max(timeout_s, 0))
        return self.up.is_set()

    async def _on_disconnected(self) -> None:
        if self.up.is_set() and not self.closed:
            log.warning("link_lost", url=self.url)
        self.up.clear()
        self.down.set()

    async def _on_reconnected(self) -> None:
        log.info("link_restored", url=self.url)
        self.down.clear()
        self.up.set()
        self._watch(self.nc)  # a reconnect starts a new read loop

    async def _on_closed(self) -> None:
        self.closed = True
        self.up.clear()
        self.down.set()

    async def _on_error(self, exc: Exception) -> None:
        if not self.up.is_set() and (
            isinstance(exc, nats.errors.AuthorizationError)
            or "authorization violation" in str(exc).lower()
        ):
            self._refused.set()
        log.debug("nats_client_error", error=repr(exc))


def translate(exc: BaseException, what: str) -> Exception:
    """Our error for a nats (or asyncio) error raised by ``what``."""
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, (nats.errors.TimeoutError, TimeoutError)):
        return SyncTimeout(f"{what} got no answer in time")
    if isinstance(exc, nats.errors.NoRespondersError):
        return NoResponders(f"{what}: no service answers (is `kopsync central ingest` running?)")
    if isinstance(exc, nats.js.errors.NoStreamResponseError):
        return SyncError(
            f"{what}: no JetStream stream takes this subject; has the central service "
            "created its streams (kopsync central ingest)?"
        )
    if isinstance(
        exc,
        (
            nats.errors.ConnectionClosedError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError,
            nats.errors.ConnectionDrainingError,
            ConnectionError,
        ),
    ):
        return LinkDown(f"link lost during {what}")
    if isinstance(exc, nats.errors.Error):
        return SyncError(f"{what} failed: {exc}")
    if isinstance(exc, Exception):
        return exc
    return SyncError(f"{what} failed: {exc!r}")


class Backoff:
    """Jittered exponential backoff: ``initial * 2**n`` capped, times a factor in [0.5, 1]."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial, self.cap, self.n = initial, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.initial * 2.0**self.n)
        self.n = min(self.n + 1, 16)
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.n = 0


async def wait_any(stop: asyncio.Event, other: asyncio.Event | None, timeout_s: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
