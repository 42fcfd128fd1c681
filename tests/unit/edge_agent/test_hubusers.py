"""What the hub decides when it looks at its LAN users file again (edge_agent.app.hubusers)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from central_projector.security.hubpolicy import lan_users
from edge_agent.app.hubauth import LocalUser
from edge_agent.app.hubusers import UsersChanged, UsersFile, UsersRejected
from sync_core.errors import UsageError

COOP = "6401050012"
DESK, SHOP = LocalUser.new().public, LocalUser.new().public


def _write(path: Path, text: str) -> None:
    """Replace the file as ``kopsync admin hub users`` does."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _users(*devices: tuple[str, str]) -> str:
    return json.dumps(lan_users(COOP, list(devices)), indent=2) + "\n"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "lan-users.json"
    _write(path, _users(("desk", DESK), ("shop", SHOP)))
    return path


def test_unchanged_touched_or_rewritten_alike_is_nothing(path: Path) -> None:
    """A file not written, only touched, or written again with the same devices asks for no
    reload."""
    watched = UsersFile.load(path, COOP)
    assert watched.check() is None
    os.utime(path, ns=(1, 1))
    assert watched.check() is None
    _write(path, _users(("desk", DESK), ("shop", SHOP)).replace("\n", "\r\n"))
    assert watched.check() is None
    assert [u["nkey"] for u in watched.users] == [DESK, SHOP]


def test_a_revocation_is_a_change_until_applied(path: Path) -> None:
    """A device gone from the file is a change, seen again at each look until the hub has
    applied it, and then no more."""
    watched = UsersFile.load(path, COOP)
    _write(path, _users(("desk", DESK)))
    found = watched.check()
    assert isinstance(found, UsersChanged)
    assert (found.added, found.removed) == (0, 1)
    assert [u["nkey"] for u in found.users] == [DESK]
    assert isinstance(watched.check(), UsersChanged)  # the hub failed to act: again
    watched.applied(found)
    assert watched.check() is None
    assert [u["nkey"] for u in watched.users] == [DESK]


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1, "users": [',
        json.dumps({"version": 1, "coop_id": "6472021005", "users": []}),
        json.dumps({"version": 1, "coop_id": COOP, "users": [{"nkey": "not-a-key"}]}),
        "",
    ],
    ids=["truncated", "other-coop", "bad-user", "empty"],
)
def test_a_broken_file_is_rejected_once_and_the_users_kept(path: Path, text: str) -> None:
    """A file that is no users file of this cooperative is reported once, the last good users
    stay, and a good file afterwards is a change again."""
    watched = UsersFile.load(path, COOP)
    _write(path, text)
    found = watched.check()
    assert isinstance(found, UsersRejected)
    assert found.kept == 2
    assert watched.check() is None
    assert [u["nkey"] for u in watched.users] == [DESK, SHOP]
    _write(path, _users(("shop", SHOP)))
    assert isinstance(watched.check(), UsersChanged)


def test_a_missing_file_is_rejected_once(path: Path) -> None:
    """A users file deleted under the running hub is reported once; the users stay."""
    watched = UsersFile.load(path, COOP)
    path.unlink()
    found = watched.check()
    assert isinstance(found, UsersRejected)
    assert "does not exist" in found.error
    assert watched.check() is None
    assert len(watched.users) == 2


def test_a_broken_file_at_start_is_the_start_error(path: Path) -> None:
    """The hub does not start on a users file it cannot use."""
    _write(path, "[]")
    with pytest.raises(UsageError, match="not a LAN users file"):
        UsersFile.load(path, COOP)


def test_a_change_refused_is_not_taken_nor_reported_again(path: Path) -> None:
    """A change nats-server would not load leaves the users as they were and is not found
    again until the file changes once more."""
    watched = UsersFile.load(path, COOP)
    _write(path, _users(("desk", DESK)))
    found = watched.check()
    assert isinstance(found, UsersChanged)
    watched.refused(found)
    assert watched.check() is None
    assert len(watched.users) == 2
    _write(path, _users(("shop", SHOP)))
    assert isinstance(watched.check(), UsersChanged)
