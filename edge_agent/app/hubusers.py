"""Following the hub's LAN users file while the hub runs (``kopsync edge hub --lan-users``).

``kopsync admin hub users`` writes the file again when a device of the cooperative is added
or revoked. The running hub looks at it every couple of seconds; :meth:`UsersFile.check`
decides what a look found, and the hub acts on it (writes nats-server's configuration again
and has it reload, :mod:`kopsync.cli.edge.hub`):

- the same content as last looked at (or only touched): nothing;
- a valid file with other devices: :class:`UsersChanged`, the new users;
- a file that is missing, unreadable or not a users file of this cooperative:
  :class:`UsersRejected`, once per content seen, and the last good users stay in force: a
  broken file never opens the hub's port, nor empties it. A change that nats-server itself
  refuses is set aside the same way (:meth:`UsersFile.refused`).

No event loop and no signals here, only the reading of the file it is given.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.app.hubauth import read_lan_users
from sync_core.errors import UsageError

POLL_S = 2.0


@dataclass(frozen=True, slots=True)
class UsersChanged:
    """The file names other devices than the hub admits now: admit these instead, then
    tell :meth:`UsersFile.applied`."""

    users: list[dict[str, Any]]
    added: int
    removed: int
    stat: tuple[int, int, int] | None = field(repr=False)
    digest: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class UsersRejected:
    """The file cannot be used; the hub keeps the users it has (``kept`` of them)."""

    error: str
    kept: int


@dataclass(slots=True)
class UsersFile:
    """The users file at ``path`` and what the hub last took from it."""

    path: Path
    coop_id: str
    users: list[dict[str, Any]]
    _stat: tuple[int, int, int] | None = field(default=None, repr=False)
    _digest: bytes | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: Path, coop_id: str) -> UsersFile:
        """The file as the hub starts with it (a bad one is the start's error)."""
        stat, digest = _look(path)
        return cls(path, coop_id, read_lan_users(path, coop_id), stat, digest)

    def check(self) -> UsersChanged | UsersRejected | None:
        """What the file holds now, compared with the last look.

        A change is only taken as seen once :meth:`applied`: a hub that failed to act on it
        finds it again at the next look."""
        try:
            stat: tuple[int, int, int] | None = _stat(self.path)
        except OSError:
            stat = None
        if stat is not None and stat == self._stat:
            return None  # cheap path: the file was not replaced nor written since
        _, digest = _look(self.path)
        if digest == self._digest:
            self._stat = stat
            return None  # touched, or missing as it was at the last look
        try:
            users = read_lan_users(self.path, self.coop_id)
        except UsageError as exc:
            self._stat, self._digest = stat, digest  # said once, not at every look
            return UsersRejected(str(exc), kept=len(self.users))
        before = {u["nkey"]: u for u in self.users}
        after = {u["nkey"]: u for u in users}
        if before == after:
            self._stat, self._digest = stat, digest
            return None  # written again with the same devices (and permissions)
        return UsersChanged(
            users,
            added=len(after.keys() - before.keys()),
            removed=len(before.keys() - after.keys()),
            stat=stat,
            digest=digest,
        )

    def applied(self, change: UsersChanged) -> None:
        """The hub admits ``change.users`` now."""
        self.users = change.users
        self._stat, self._digest = change.stat, change.digest

    def refused(self, change: UsersChanged) -> None:
        """The hub cannot use ``change`` (nats-server would not load it): it keeps its users,
        and the file's content is not reported again."""
        self._stat, self._digest = change.stat, change.digest


def _stat(path: Path) -> tuple[int, int, int]:
    # the inode too: `admin hub users` replaces the file, and a replacement of the same size
    # within one tick of the clock would otherwise look unchanged
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _look(path: Path) -> tuple[tuple[int, int, int] | None, bytes | None]:
    try:
        stat = _stat(path)
        return stat, hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None, None
