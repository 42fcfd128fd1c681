"""The edge agent's real HTTP API on a free loopback port, and facts "from the central".

:class:`LiveApi` serves :func:`edge_agent.http.app.build_app` with uvicorn in a thread of
the test process (real sockets, real HTTP); :func:`issue` gives a device central reference
data as the downlink would (signed envelopes applied with ``receive_central``).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import threading
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from edge_agent.app.agent import EdgeAgent
from edge_agent.http.app import build_app
from edge_agent.http.server import listen, serve
from schemas import REGISTRY
from sync_core.envelope import Envelope, seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH, DeviceKey

CENTRAL = "test-central"
CENTRAL_KEY = DeviceKey(hashlib.sha256(b"kopsync-test-central").digest())


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str | None:
        """The problem's stable code (None for an answer that is not a problem)."""
        return self.body.get("code") if isinstance(self.body, dict) else None


class LiveApi:
    """``build_app(agent, **options)`` served on ``host``:free port until closed."""

    def __init__(self, agent: EdgeAgent, host: str = "127.0.0.1", **options: Any) -> None:
        self.agent = agent
        self.sock = listen(host, 0)
        self.port = self.sock.getsockname()[1]
        self.app = build_app(agent, **options)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await serve(self.app, self.sock, self._stop)

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        """One request on a fresh connection; a JSON body unless ``raw`` is given."""
        sent = dict(headers or {})
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=sent)
            resp = conn.getresponse()
            text = resp.read()
            kind = resp.getheader("content-type", "")
            parsed = json.loads(text) if "json" in kind else text.decode()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed)
        finally:
            conn.close()

    def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def ok(self, path: str, body: Any, **kw: Any) -> dict[str, Any]:
        """POST that must record: its receipt."""
        reply = self.post(path, body, **kw)
        assert reply.status == 201, reply.body
        assert isinstance(reply.body, dict)
        return reply.body

    def refused(self, path: str, body: Any, status: int, code: str) -> Reply:
        """POST that must be refused with ``status`` and ``code`` and record nothing."""
        before = self.agent.head().seq
        reply = self.post(path, body)
        assert (reply.status, reply.code) == (status, code), reply.body
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.body["type"] == f"urn:kopsync:problem:{code}"
        assert reply.body["status"] == status and reply.body["detail"]
        assert self.agent.head().seq == before, "a refused request recorded something"
        return reply


def last_event(agent: EdgeAgent) -> Any:
    """The newest event in ``agent``'s log."""
    head = agent.head().seq
    return next(agent.log(head - 1))


def issue(agent: EdgeAgent, *facts: tuple[str, str, dict[str, Any]]) -> None:
    """Apply central events (type, aggregate id, payload) to ``agent``, as the downlink does
    (the test central's key pinned as at a first hello)."""
    agent.store.pin_issuer(CENTRAL, CENTRAL_KEY.public_key)
    held = agent.store.downlink.select_events(CENTRAL, desc=True, limit=1)
    last = Envelope.decode(held[0].state) if held else None
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    envelopes = []
    for event_type, aggregate_id, payload in facts:
        seq += 1
        env = seal(
            CENTRAL_KEY,
            event_id=str(uuid.uuid4()),
            coop_id=agent.coop_id,
            device_id=CENTRAL,
            seq=seq,
            hlc=Hlc(1_780_000_000_000 + seq, 0),
            type=event_type,
            version=REGISTRY.latest_version(event_type),
            aggregate_id=aggregate_id,
            payload=REGISTRY.validate(event_type, payload),
            prev_hash=prev,
        )
        envelopes.append(env)
        prev = env.hash
    assert len(agent.receive_central(envelopes)) == len(envelopes)
