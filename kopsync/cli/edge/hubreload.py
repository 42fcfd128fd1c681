"""The running hub takes its LAN users file again when it changes (``kopsync edge hub``).

Every :data:`~edge_agent.app.hubusers.POLL_S` the hub looks at the file
(:class:`~edge_agent.app.hubusers.UsersFile` decides what the look found); other devices
there are rendered into a new configuration, which ``nats-server -t`` must accept before it
replaces ``hub.conf``, and nats-server is told to reload it (SIGHUP: it re-reads its
authorization, closes the connections of users no longer listed and keeps the others and
the leaf). Whatever cannot be used, a broken file or a configuration nats-server refuses, is
one error in the log, and the users last applied stay in force.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import structlog

from edge_agent.app.hub import HubSettings, render_config
from edge_agent.app.hubauth import LocalUser
from edge_agent.app.hubusers import POLL_S, UsersChanged, UsersFile, UsersRejected
from kopsync.devnats import nats_server_binary

log = structlog.get_logger("kopsync.edge.hub")


def write_private(path: Path, text: str) -> None:
    """Write ``path`` (it may hold the leaf seed) readable by its owner only, and whole: a
    nats-server reloading meanwhile reads the old file or the new one."""
    os.replace(_private_tmp(path, text), path)


def _private_tmp(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # a tmp left behind by a crash keeps its own mode through O_CREAT
    return tmp


async def _refusal(config: Path) -> str | None:
    """Why nats-server would not load ``config`` (``nats-server -t``), or None."""
    check = await asyncio.to_thread(
        subprocess.run,
        [str(nats_server_binary()), "-t", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check.returncode == 0:
        return None
    return (check.stderr or check.stdout).strip() or f"exit code {check.returncode}"


class UsersReload:
    """What the hub needs to write its configuration again with other LAN users."""

    def __init__(
        self, settings: HubSettings, config: Path, seed: str | None, users: UsersFile,
        local: LocalUser,
    ) -> None:  # fmt: skip
        self.settings, self.config, self.seed = settings, config, seed
        self.users, self.local = users, local

    async def follow(self, proc: subprocess.Popen[bytes]) -> None:
        """Until nats-server exits: apply each change of the users file, report each unusable
        one once."""
        where = {"coop_id": self.settings.coop_id, "lan_users": str(self.users.path)}
        while proc.poll() is None:
            await asyncio.sleep(POLL_S)
            found = self.users.check()
            if isinstance(found, UsersRejected):
                log.error("lan_users_rejected", **where, error=found.error, kept=found.kept)
            elif isinstance(found, UsersChanged):
                try:
                    refused = await self._apply(found, proc)
                # a full disk, say, or a hung check: tried again at the next look
                except (OSError, subprocess.SubprocessError) as exc:
                    log.error("lan_users_reload_failed", **where, error=str(exc))
                    continue
                if refused is not None:
                    self.users.refused(found)
                    log.error(
                        "lan_users_rejected", **where, kept=len(self.users.users),
                        error=f"nats-server refuses the configuration made from it: {refused}",
                    )  # fmt: skip
                    continue
                self.users.applied(found)
                log.info(
                    "lan_users_reloaded", **where, devices=len(found.users),
                    added=found.added, removed=found.removed,
                )  # fmt: skip

    async def _apply(self, change: UsersChanged, proc: subprocess.Popen[bytes]) -> str | None:
        """Write the configuration with ``change``'s users and have nats-server reload it;
        why nats-server would refuse it instead (``hub.conf`` then untouched)."""
        text = render_config(self.settings, self.seed, change.users, self.local)
        tmp = _private_tmp(self.config, text)
        refused = await _refusal(tmp)
        if refused is not None:
            tmp.unlink()
            return refused.replace(str(tmp), self.config.name)
        os.replace(tmp, self.config)
        proc.send_signal(signal.SIGHUP)  # nats-server re-reads its authorization
        return None
