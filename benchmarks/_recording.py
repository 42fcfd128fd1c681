"""Driving an edge agent's records for the edge API benchmark: over HTTP to ``kopsync edge
serve`` in its own process (:class:`Served`), or in process with ``EdgeAgent.record``; one
caller after the other or several at once.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent
from kopsync.devnats import HOST, free_port

KOPSYNC = [sys.executable, "-P", "-m", "kopsync"]


class Served:
    """``kopsync edge serve`` on one device's data, with a keep-alive client."""

    def __init__(
        self, data: Path, log: Path, *, nats_url: str | None = None, api: bool = True
    ) -> None:
        self.data = data
        self.port = free_port()
        address = f"{HOST}:{self.port}"
        if nats_url is None:
            cmd = [*KOPSYNC, "edge", "serve", "--data", str(data), "--http", address]
        else:
            cmd = [*KOPSYNC, "edge", "run", "--nats", nats_url, "--data", str(data)]
            cmd += ["--http", address] if api else []
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        if api:
            self._wait_ready(log)

    def wait_synced(self, timeout_s: float = 120) -> None:
        """Until this process has heard from the central and it committed every event."""
        started_ms = time.time_ns() // 1_000_000
        deadline = time.monotonic() + timeout_s
        while True:
            with EdgeAgent(self.data) as agent:
                status = agent.status()
            if status["pending"] == 0 and (status["last_contact"] or 0) > started_ms:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the device did not sync")
            time.sleep(0.5)

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                self.conn.close()
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not start; see {log}")
            time.sleep(0.05)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, data, headers)
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read())

    def cpu_s(self) -> float:
        """The server process's CPU seconds so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def close(self) -> None:
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class LeanClient:
    """A keep-alive HTTP/1.1 client on a plain socket: the request written in one ``send``,
    the answer read by its ``Content-Length``, its JSON decoded. A load generator such as
    ``wrk`` or a till's own HTTP library does about this much; ``http.client`` parses every
    answer's headers with the ``email`` package, which costs about as much CPU as the
    server's whole HTTP layer (figures in docs/BENCHMARKS.md)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = f"Host: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        self.buf = b""

    def post(self, path: str, body: bytes) -> tuple[int, Any]:
        request = f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(request.encode() + body)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self.buf += self._recv()
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        lines = head.split("\r\n")
        length = next(int(h[15:]) for h in lines if h[:15].lower() == "content-length:")
        while len(self.buf) < length:
            self.buf += self._recv()
        answer, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split(" ", 2)[1]), json.loads(answer)

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


def http_block(
    served: Served,
    gen: Iterator[Draft],
    n: int,
    lat: list[float],
    cpu: list[float] | None = None,
    lean: LeanClient | None = None,
) -> float:
    """Post ``n`` events one after the other (through ``lean`` when given, else through
    ``served``'s ``http.client`` connection); their latencies go to ``lat``, the server's and
    the client's CPU seconds are added to ``cpu[0]`` and ``cpu[1]``; returns events/s."""
    served_cpu, client_cpu = served.cpu_s(), time.process_time()
    start = time.perf_counter()
    for _ in range(n):
        d = next(gen)
        path, body = f"/v1/events/{d.type}", {"aggregate_id": d.aggregate_id, "payload": d.payload}
        t0 = time.perf_counter()
        if lean is None:
            status, answer = served.request("POST", path, body)
        else:
            status, answer = lean.post(path, json.dumps(body).encode())
        lat.append(time.perf_counter() - t0)
        if status != 201:
            raise RuntimeError(f"{d.type} was not recorded: {answer}")
    rate = n / (time.perf_counter() - start)
    if cpu is not None:
        cpu[0] += served.cpu_s() - served_cpu
        cpu[1] += time.process_time() - client_cpu
    return rate


def process_block(
    agent: EdgeAgent, gen: Iterator[Draft], n: int, lat: list[float], cpu: list[float] | None = None
) -> float:
    started_cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(n):
        d = next(gen)
        t0 = time.perf_counter()
        agent.record(d.type, d.payload, d.aggregate_id)
        lat.append(time.perf_counter() - t0)
    rate = n / (time.perf_counter() - start)
    if cpu is not None:
        cpu[0] += time.process_time() - started_cpu
    return rate


def concurrent_rate(shares: list[list[Callable[[], object]]]) -> float:
    """Events/s of the calls (each records one event), each share made by a thread of its
    own, all threads at once."""
    start = threading.Barrier(len(shares) + 1)

    def client(mine: list[Callable[[], object]]) -> None:
        start.wait()
        for call in mine:
            call()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in shares]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return sum(map(len, shares)) / (time.perf_counter() - t0)


def http_concurrent(served: Served, gen: Iterator[Draft], n: int, clients: int) -> float:
    """``n`` events posted by ``clients`` clients at once, each on its own connection."""
    conns = [http.client.HTTPConnection(HOST, served.port, timeout=30) for _ in range(clients)]

    def post(conn: http.client.HTTPConnection, d: Draft) -> None:
        body = json.dumps({"aggregate_id": d.aggregate_id, "payload": d.payload})
        conn.request("POST", f"/v1/events/{d.type}", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer = resp.read()
        if resp.status != 201:
            raise RuntimeError(f"{d.type} was not recorded: {answer!r}")

    drafts = [next(gen) for _ in range(n)]
    shares: list[list[Callable[[], object]]] = [
        [functools.partial(post, conn, d) for d in drafts[i::clients]]
        for i, conn in enumerate(conns)
    ]
    try:
        return concurrent_rate(shares)
    finally:
        for conn in conns:
            conn.close()


def process_concurrent(agent: EdgeAgent, gen: Iterator[Draft], n: int, clients: int) -> float:
    """``n`` events recorded in process by ``clients`` threads at once (``EdgeAgent.record``:
    each its own transaction, as the store has no other way in process)."""
    drafts = [next(gen) for _ in range(n)]
    shares: list[list[Callable[[], object]]] = [
        [functools.partial(agent.record, d.type, d.payload, d.aggregate_id) for d in mine]
        for mine in (drafts[i::clients] for i in range(clients))
    ]
    return concurrent_rate(shares)
