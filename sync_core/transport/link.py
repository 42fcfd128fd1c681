"""One NATS connection, with the guards a bad link needs: the adapter every kopsync client uses.

A link opens in one of two modes:

- ``allow_reconnect=True`` (services, one-shot clients): nats-py reconnects by itself (here
  forever: ``max_reconnect_attempts=-1``; its default gives up after 60 attempts and closes the
  client) and the caller waits for :attr:`Link.up`.
- ``allow_reconnect=False`` (the edge's long-running replicator): a drop closes the link and
  the caller opens a fresh one. :meth:`Link.open` then retries the connect itself, every
  ``reconnect_wait_s``, with a fresh client each time. Over a 600 ms round trip a fresh connect
  (INFO, CONNECT+PING, PONG) is ready in about half the time nats-py's reconnect takes (which
  also re-subscribes and flushes once more before it reports the connection restored).

Either way, a request or a JetStream publish that was in flight when the link dropped is not
failed by the client: it waits for its own timeout. On a link that comes back after a second
that would stall a sync for the whole timeout. So operations run through :meth:`Link.guarded`
(:meth:`Link.request` and :meth:`Link.publish` use it), which fails one at once when the
connection drops (``LinkDown``) or when its time is up (``SyncTimeout``); ``js.publish``
futures can otherwise hang on server errors.

nats errors are translated here, at the boundary, into :mod:`sync_core.errors`. The link logs
losing and regaining its connection (``nats_connection_lost``, ``nats_connection_restored``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DEFAULT_PREFIX, PubAck

from sync_core.errors import LinkDown, SyncError, SyncTimeout
from sync_core.transport import tlsfirst  # noqa: F401 (wraps nats-py's TLS-first connect)
from sync_core.transport.options import ConnectOptions, tls_kwargs
from sync_core.transport.stopping import abandon, sleep_unless_stopped, until_stopped
from sync_core.transport.tlsfail import Handshakes, describe, is_tls_failure

T = TypeVar("T")


LOGGER = "kopsync.nats"
# A service whose credentials the server refused tries again this often: an administrator may
# register it and reload the server.
REFUSED_RETRY_S = 5.0


class NoResponders(SyncError):
    """Nobody subscribes to the subject of a request (the central service is not running)."""


class AuthRefused(LinkDown):
    """The server refused the client's credentials (none, unknown or revoked).

    A :class:`LinkDown`, so the long-running replicator keeps trying (at its backoff) until an
    administrator registers the device and reloads the server; a one-shot sync fails with it.
    """


class TlsRefused(AuthRefused):
    """The TLS handshake failed for good (:mod:`sync_core.transport.tlsfail`): a connect fails
    at once, services try again every few seconds, as with refused credentials."""


class Link:
    """A connected client plus ``up``/``down`` events kept by the client's callbacks.

    ``log`` is the logger to bind (a caller's, carrying its ids); by default ``kopsync.nats``.
    """

    def __init__(self, options: ConnectOptions, *, log: Any = None) -> None:
        self.options = options
        self.nc = Client()
        self.up = asyncio.Event()
        self.down = asyncio.Event()
        self.closed = False
        self._js: JetStreamContext | None = None
        self._refused = asyncio.Event()  # the server said "Authorization Violation" to a connect
        self._tls = Handshakes()  # the failed TLS handshakes of the connect under way
        # A logger per link, not one module-level proxy: with structlog's
        # cache_logger_on_first_use a module proxy keeps the processors of whichever
        # configuration was current when it was first bound, for the life of the process.
        self._log = (log if log is not None else structlog.get_logger(LOGGER)).bind(
            client=options.name, nats=options.url
        )

    @property
    def url(self) -> str:
        return self.options.url

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise SyncError("the link is not open")
        return self._js

    async def open(self, timeout_s: float | None, *, allow_reconnect: bool = True) -> None:
        """Connect within ``timeout_s`` (``None``: as long as it takes) or raise
        :class:`LinkDown` (:class:`AuthRefused` when the server refuses the credentials,
        :class:`TlsRefused` when the TLS handshake fails).

        With ``allow_reconnect`` the client reconnects by itself after a drop (and nats-py
        retries the first connect every ``reconnect_wait_s``); without, a drop closes the link
        and this method retries the first connect every ``reconnect_wait_s``, each time with a
        fresh client.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        wait_s = self.options.reconnect_wait_s
        self.nc = Client()  # a used client is not reused: its state is half set up or closed
        self._tls = Handshakes()
        while True:
            options = self._options(allow_reconnect, timeout_s)
            try:
                left = None if deadline is None else max(deadline - loop.time(), 0.001)
                await self._connect(options, left)
                break
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                error = exc
            self._tls.note(error, connect_failed=True)
            if self._tls.lasting is not None:
                await self.close()
                raise TlsRefused(self._tls_refusal(self._tls.lasting)) from error
            if self._refused.is_set():
                await self.close()
                raise AuthRefused(self._refusal(options)) from error
            if allow_reconnect or (deadline is not None and deadline - loop.time() <= wait_s):
                await self.close()
                if self._tls.last is not None:  # a handshake kept failing: say how
                    raise TlsRefused(self._tls_refusal(self._tls.last)) from error
                within = "" if timeout_s is None else f" within {timeout_s:g} s"
                raise LinkDown(
                    f"cannot reach the NATS server at {self.url}{within} "
                    "(is the link up and the URL right?)"
                ) from error
            self._log.debug("connect_retry", error=repr(error))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), 5)
            await asyncio.sleep(wait_s)
            self.nc = Client()
        self._js = self.nc.jetstream(prefix=self.options.js_api_prefix or DEFAULT_PREFIX)
        self.closed = False
        self.down.clear()
        self.up.set()
        self._watch(self.nc)

    async def open_until_stopped(self, stop: asyncio.Event) -> bool:
        """Connect as a service does: waiting for the server as long as it takes, and trying
        refused credentials again every few seconds; ``False`` if ``stop`` came first."""
        while not stop.is_set():
            try:
                return await until_stopped(stop, self.open(None))
            except AuthRefused as exc:
                what = "nats_tls_refused" if isinstance(exc, TlsRefused) else "nats_auth_refused"
                self._log.error(what, error=str(exc))
                await sleep_unless_stopped(stop, REFUSED_RETRY_S)
        return False

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
                self._log.debug("nats_read_loop_failed", error=repr(task.exception()))
            if nc is self.nc and nc.is_closed and not self.down.is_set() and not self.closed:
                self._log.warning("nats_connection_lost", detail="client closed without callback")
                self.closed = True
                self.up.clear()
                self.down.set()

        task.add_done_callback(ended)

    async def _connect(self, options: dict[str, Any], timeout_s: float | None) -> None:
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
            await abandon(connect)
        if connect in done:
            connect.result()
        elif self._refused.is_set():
            raise nats.errors.AuthorizationError
        else:
            raise TimeoutError

    def _tls_refusal(self, error: BaseException) -> str:
        encrypted = bool(tls_kwargs(self.options.servers, self.options.tls))
        return describe(error, self.url, self.options.tls, encrypted)

    def _refusal(self, options: dict[str, Any]) -> str:
        seed = options.get("nkeys_seed")
        creds = self.options.credentials
        if self.options.nkey_seed_value:
            return f"the NATS server at {self.url} refused the client's own nkey"
        if seed is None and not creds:
            return (
                f"the NATS server at {self.url} requires authentication: give the nkey seed "
                "file with --nkey FILE (or $KOPSYNC_NATS_NKEY)"
            )
        what = f"the nkey in {seed}" if seed else f"the credentials in {creds}"
        return (
            f"the NATS server at {self.url} refused {what} (authorization violation): "
            "is it registered and not revoked (kopsync admin)?"
        )

    def _options(self, allow_reconnect: bool, timeout_s: float | None) -> dict[str, Any]:
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

        connect_s = 5 if timeout_s is None else max(1, min(5, int(timeout_s)))
        return self.options.client_kwargs() | {
            "allow_reconnect": allow_reconnect,
            "max_reconnect_attempts": -1,
            "connect_timeout": connect_s,
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "closed_cb": closed,
            "error_cb": self._on_error,
        }

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
            await abandon(task)
            raise LinkDown(f"link down, {what} not attempted")
        down = asyncio.ensure_future(self.down.wait())
        try:
            done, _ = await asyncio.wait(
                {task, down}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            down.cancel()
            await abandon(task)
        if task in done:
            try:
                return task.result()
            except Exception as exc:
                raise translate(exc, what) from exc
        if down in done:
            raise LinkDown(f"link lost during {what}")
        raise SyncTimeout(f"{what} got no answer within {timeout_s:g} s")

    async def request(self, subject: str, data: bytes, timeout_s: float, what: str) -> Msg:
        """A core request, guarded."""
        return await self.guarded(
            self.nc.request(subject, data, timeout=timeout_s), timeout_s + 1, what
        )

    async def publish(
        self,
        subject: str,
        data: bytes,
        timeout_s: float,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        """A JetStream publish, guarded; the stream's acknowledgement."""
        return await self.guarded(
            self.js.publish(subject, data, timeout=timeout_s, headers=headers),
            timeout_s + 1,
            what,
        )

    async def wait_up(self, timeout_s: float) -> bool:
        """Wait until the client is connected again; ``False`` if it was not in time."""
        if self.closed:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.up.wait(), max(timeout_s, 0))
        return self.up.is_set()

    async def _on_disconnected(self) -> None:
        if self.up.is_set() and not self.closed:
            self._log.warning("nats_connection_lost")
        self.up.clear()
        self.down.set()

    async def _on_reconnected(self) -> None:
        self._log.info("nats_connection_restored")
        self.down.clear()
        self.up.set()
        self._watch(self.nc)  # a reconnect starts a new read loop

    async def _on_closed(self) -> None:
        self.closed = True
        self.up.clear()
        self.down.set()

    async def _on_error(self, exc: Exception) -> None:
        if not self.up.is_set() and is_tls_failure(exc):
            self._tls.note(exc)
            if self._tls.lasting is not None:
                self._refused.set()
        elif not self.up.is_set() and (
            isinstance(exc, nats.errors.AuthorizationError)
            or "authorization violation" in str(exc).lower()
        ):
            self._refused.set()
        self._log.debug("nats_client_error", error=repr(exc))


@contextlib.asynccontextmanager
async def connected(
    options: ConnectOptions, timeout_s: float | None = 10.0, *, log: Any = None
) -> AsyncIterator[Link]:
    """An open link for the block (reconnecting by itself), closed after it."""
    link = Link(options, log=log)
    await link.open(timeout_s)
    try:
        yield link
    finally:
        await link.close()


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
