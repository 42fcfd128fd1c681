"""TLS on the NATS links: the data path encrypted end to end, and every wrong way refused.

A real nats-server serving TLS first on its client port (certificates made by the code of
``kopsync admin tls``), the real replicator and ingest; a TCP tap between the device and
the server records what an eavesdropper on the satellite link would read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client
from support.nats import HOST, NatsServer
from support.pii import pii_of
from support.replication import (
    COOP_A,
    assert_exactly_once,
    eventually,
    fully_committed,
    make_device,
    register,
    replicator,
    running_central,
)
from support.tap import Tap, seen
from support.tls import Pki, make_pki

from central_projector.record.store import CentralStore
from edge_agent.app import teller
from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.linkemu import LinkEmulator, LinkProfile
from sync_core.transport import ConnectOptions, Link

pytestmark = pytest.mark.timeout(120)

MEMBERS = [
    ("6401051204880001", "6401050101090003", "Siti Rahmawati"),
    ("6401054512910002", "6401050101090017", "Yohanes Dwi Putranto"),
]


def _device_with_members(root: Path) -> EdgeAgent:
    agent = make_device(root, COOP_A, "kasir-tls", 30)
    for nik, kk, name in MEMBERS:
        teller.register_member(
            agent, nik=nik, kk_no=kk, name=name, birth_date="1988-04-12", desa_code=COOP_A
        )
    return agent


def _personal(agent: EdgeAgent) -> list[str]:
    found = [v for env in agent.store.events() for v in pii_of(env)]
    assert {n for _, _, n in MEMBERS} <= set(found)
    return found


async def _sync_through_tap(tmp_path: Path, server: NatsServer, pki: Pki | None) -> bytes:
    agent = _device_with_members(tmp_path)
    store = CentralStore(f"sqlite:///{tmp_path / 'central.db'}")
    register(store, agent)
    tls = None if pki is None else pki.client_tls()
    scheme = "nats" if pki is None else "tls"
    try:
        async with running_central(store, server.url, tls=tls), Tap(HOST, server.port) as tap:
            report = await replicator(agent, tap.url(scheme), tls=tls).sync_once(60)
            assert report.complete
            await eventually(fully_committed(store, agent), 30, "every event committed")
            assert_exactly_once(store, agent)
            assert seen(_personal(agent), bytes(tap.recorded)) == [] or pki is None
            return bytes(tap.recorded)
    finally:
        agent.close()
        store.close()


async def test_a_tap_on_a_tls_link_reads_no_nik_name_or_kk(
    tmp_path: Path, tls_nats_server: NatsServer, pki: Pki
) -> None:
    """Over TLS the device syncs everything and the tap finds no personal data, no protocol."""
    recorded = await _sync_through_tap(tmp_path, tls_nats_server, pki)
    assert len(recorded) > 10_000  # the whole sync went through the tap
    for clear in (b"CONNECT", b"INFO", b"PUB ", b"kop.up", b"kop.hello", b"_INBOX"):
        assert clear not in recorded


async def test_the_same_tap_reads_personal_data_on_a_plaintext_link(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """Control: without TLS the tap does read NIKs and names (so the test above can fail)."""
    recorded = await _sync_through_tap(tmp_path, nats_server, None)
    agent = EdgeAgent(tmp_path / "kasir-tls")
    try:
        assert {n for _, _, n in MEMBERS} <= set(seen(_personal(agent), recorded))
    finally:
        agent.close()


def _edge_sync(data: Path, url: str, *tls_args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_NATS")}
    argv = ["edge", "sync", "--data", str(data), "--nats", url, "--timeout", "20", *tls_args]
    return subprocess.run(
        [sys.executable, "-m", "kopsync", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _one_error(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert says in lines[0], lines[0]


@pytest.fixture
def device_dir(tmp_path: Path) -> Path:
    make_device(tmp_path, COOP_A, "kasir-1", 3).close()
    return tmp_path / "kasir-1"


def test_a_plaintext_client_is_refused_with_one_line(
    device_dir: Path, tls_nats_server: NatsServer
) -> None:
    """`edge sync --nats nats://…` to the TLS server: one line saying TLS is required."""
    _one_error(_edge_sync(device_dir, tls_nats_server.plain_url), "requires TLS")


def test_a_wrong_ca_is_refused_with_one_line(
    device_dir: Path, tls_nats_server: NatsServer, tmp_path: Path
) -> None:
    """A client pinning another installation's CA refuses the server's certificate."""
    other = make_pki(tmp_path / "other")
    result = _edge_sync(device_dir, tls_nats_server.url, "--tls-ca", str(other.ca))
    _one_error(result, f"not signed by the CA in {other.ca}")


def test_an_expired_server_certificate_is_refused_with_one_line(
    device_dir: Path, nats_server_factory: object, tmp_path: Path
) -> None:
    """A server presenting an expired certificate is refused by the client."""
    pki = make_pki(tmp_path / "expired", server_expired=True)
    server = nats_server_factory(tls=pki)  # type: ignore[operator]
    result = _edge_sync(device_dir, server.url, "--tls-ca", str(pki.ca))
    _one_error(result, "presents an expired certificate")


def test_an_expired_client_certificate_is_refused_with_one_line(
    device_dir: Path, nats_server_factory: object, pki: Pki
) -> None:
    """A server that verifies clients refuses an expired client certificate; a valid one works."""
    server = nats_server_factory(tls=pki, tls_verify=True)  # type: ignore[operator]
    old = pki.expired_client("kasir-1")
    files = ["--tls-ca", str(old.ca_file), "--tls-cert", str(old.cert_file)]
    result = _edge_sync(device_dir, server.url, *files, "--tls-key", str(old.key_file))
    _one_error(result, "refused our client certificate as expired")


def test_tls_files_for_a_plaintext_url_are_one_error(device_dir: Path, pki: Pki) -> None:
    """--tls-ca with a nats:// URL is refused before connecting (it would send in clear)."""
    result = _edge_sync(device_dir, f"nats://{HOST}:4222", "--tls-ca", str(pki.ca))
    _one_error(result, "write it as tls://HOST:PORT")


def test_the_server_answers_no_plaintext_protocol(tls_nats_server: NatsServer) -> None:
    """A raw client speaking NATS in clear gets no PONG: the server wanted a TLS handshake."""
    with socket.create_connection((HOST, tls_nats_server.port), timeout=10) as s:
        s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        got = b""
        try:
            while chunk := s.recv(4096):
                got += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    assert b"PONG" not in got and b"INFO" not in got


def _kopsync(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPSYNC_NATS")}
    return subprocess.run(
        [sys.executable, "-m", "kopsync", *argv], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip


def test_central_and_partner_commands_refuse_a_wrong_ca_with_one_line(
    tls_nats_server: NatsServer, tmp_path: Path
) -> None:
    """`central issue --nats` and `partner tail` pinning another CA: one line each, exit 2."""
    other = make_pki(tmp_path / "other")
    url, ca = tls_nats_server.url, str(other.ca)
    assert _kopsync("central", "migrate", "--db", f"sqlite:///{tmp_path}/c.db").returncode == 0
    issue = _kopsync("central", "issue", "CardBlocked", "--coop", COOP_A, "--aggregate", "K-1",
                     "--json", '{"reason": "hilang"}', "--db", f"sqlite:///{tmp_path}/c.db",
                     "--nats", url, "--tls-ca", ca)  # fmt: skip
    tail = _kopsync("partner", "tail", "--nats", url, "--tls-ca", ca, "--filter",
                    "kop.partner.bank-kalteng.>", "--idle-exit", "1")  # fmt: skip
    for result in (issue, tail):
        _one_error(result, f"not signed by the CA in {ca}")


async def test_tls_first_connects_over_a_satellite_link_and_after_its_cuts(
    tls_nats_server: NatsServer, pki: Pki
) -> None:
    """Over the emulated satellite link (300 ms each way) a TLS-first connect succeeds, before
    and after a cut: the ClientHello reaches the server before it gives up waiting for it."""
    async with LinkEmulator(HOST, tls_nats_server.port, LinkProfile.satellite()) as link:
        url = link.url.replace("nats://", "tls://", 1)
        for _ in range(3):
            trip = Link(ConnectOptions.for_url(url, tls=pki.client_tls()))
            await trip.open(30, allow_reconnect=False)
            await trip.nc.flush(timeout=10)
            await trip.close()
            link.cut()
            link.restore()


async def test_a_tls_first_connect_on_a_reset_connection_fails_as_reset(
    tls_nats_server: NatsServer, pki: Pki
) -> None:
    """While the link is down (the emulator resets every new connection), a TLS-first connect
    fails with the reset, as a plaintext one does, rather than waiting out its timeout."""
    async with LinkEmulator(HOST, tls_nats_server.port, LinkProfile.satellite()) as link:
        link.cut()
        url = link.url.replace("nats://", "tls://", 1)
        kwargs = ConnectOptions.for_url(url, tls=pki.client_tls()).client_kwargs()
        with pytest.raises(ConnectionResetError):
            await Client().connect(**kwargs, allow_reconnect=False, connect_timeout=60)
