"""The seal: a keyed digest of what the store wrote, so that start-up notices what it did not.

Every write transaction of the store (an append, central events received, the clock
advanced) leaves, in view row ``@seal``:

- ``views``: the number of view rows and the sum, modulo 2**256, of a keyed hash of each
  row (its key and stored bytes), ``@seal`` itself excepted;
- ``logs``: for each signed-log table (:data:`edge_agent.adapters.logs.SIGNED_LOGS`), the
  number of rows and the same sum over (table, stream, seq, stored bytes);
- ``pins``: the issuers whose events the device accepts, and their public keys (the
  central's, pinned at the first hello; the simulator's, on a simulated device): a
  verification that trusts them cannot be turned by editing the ``sync`` meta record;
- ``mac``: a keyed MAC over all three.

A sum of keyed hashes is updated in O(changed rows): a write subtracts the hash of a row's
old bytes and adds its new one. The key is derived from the device's signing seed, which is
never in the database, so whoever edits ``edge.db`` alone cannot make a matching seal: an
unblocked card, a raised allowance, a flipped byte or a deleted row leaves the sums apart.
An update adds the hashes of the bytes it actually replaced, so writing on after such an
edit never makes the seal match again (only ``kopsync edge repair`` re-seals).

Checking (:func:`digest_views`, :func:`digest_rows`) reads and hashes rows: no signature
check and no fold, which is what ``kopsync edge verify`` adds. The limit: someone holding
``device.key`` too, or restoring an older copy of the whole file, is not caught here (the
central's confirmed seq catches the latter for confirmed events).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sync_core import codec

SEAL_KEY = "@seal"
MOD = 2**256
_CONTEXT = b"kopsync edge store seal v1"


def seal_key(device_seed: bytes) -> bytes:
    """The store's MAC key, derived from the device's signing seed."""
    return hmac.digest(device_seed, _CONTEXT, "sha256")


@dataclass(slots=True)
class Digest:
    """A multiset digest: how many rows and the sum of their keyed hashes."""

    n: int = 0
    total: int = 0

    def add(self, h: int, sign: int = 1) -> None:
        self.n += sign
        self.total = (self.total + sign * h) % MOD

    def to_wire(self) -> list[Any]:
        return [self.n, self.total.to_bytes(32, "big")]

    @classmethod
    def from_wire(cls, w: Any) -> Digest:
        return cls(int(w[0]), int.from_bytes(bytes(w[1]), "big"))


def _keyed(key: bytes, person: bytes) -> Any:
    return hashlib.blake2b(key=key, person=person, digest_size=32)


def view_hash(key: bytes, name: str, value: bytes) -> int:
    h = _keyed(key, b"kopsync-view")
    h.update(b"%d:%s" % (len(name), name.encode()))
    h.update(value)
    return int.from_bytes(h.digest(), "big")


def row_hash(key: bytes, table: str, stream: str, seq: int, state: bytes) -> int:
    h = _keyed(key, b"kopsync-log")
    h.update(f"{table}\x00{stream}\x00{seq}\x00".encode())
    h.update(state)
    return int.from_bytes(h.digest(), "big")


@dataclass(slots=True)
class Seal:
    """The sealed digests of the views and of each signed log."""

    views: Digest = field(default_factory=Digest)
    logs: dict[str, Digest] = field(default_factory=dict)
    pins: dict[str, bytes] = field(default_factory=dict)

    def log(self, table: str) -> Digest:
        return self.logs.setdefault(table, Digest())

    def _body(self) -> bytes:
        logs = {t: d.to_wire() for t, d in self.logs.items()}
        return codec.encode({"views": self.views.to_wire(), "logs": logs, "pins": self.pins})

    def to_view(self, key: bytes) -> dict[str, Any]:
        body = self._body()
        return {"v": 1, "body": body, "mac": hmac.digest(key, body, "sha256")}

    @classmethod
    def from_view(cls, key: bytes, view: dict[str, Any] | None) -> Seal | None:
        """The seal stored in ``view``, or None when there is none or its MAC is wrong."""
        if not view or view.get("v") != 1:
            return None
        body = bytes(view["body"])
        if not hmac.compare_digest(hmac.digest(key, body, "sha256"), bytes(view["mac"])):
            return None
        wire = codec.decode(body)
        logs = {t: Digest.from_wire(d) for t, d in wire["logs"].items()}
        pins = {str(i): bytes(k) for i, k in wire["pins"].items()}
        return cls(Digest.from_wire(wire["views"]), logs, pins)


def digest_views(key: bytes, rows: Iterable[tuple[str, bytes]]) -> Digest:
    """The digest of view rows (key, stored bytes), ``@seal`` skipped: :func:`view_hash`
    of each, in one tight loop (the start-up check runs it over every view)."""
    base = _keyed(key, b"kopsync-view")
    n = total = 0
    for name, value in rows:
        if name == SEAL_KEY:
            continue
        h = base.copy()
        h.update(b"%d:%s" % (len(name), name.encode()))
        h.update(value)
        total += int.from_bytes(h.digest(), "big")
        n += 1
    return Digest(n, total % MOD)


def digest_rows(key: bytes, table: str, rows: Iterable[tuple[str, int, bytes]]) -> Digest:
    """The digest of a log table's rows (stream, seq, stored bytes): :func:`row_hash` of each."""
    base = _keyed(key, b"kopsync-log")
    n = total = 0
    for stream, seq, state in rows:
        h = base.copy()
        h.update(f"{table}\x00{stream}\x00{seq}\x00".encode())
        h.update(state)
        total += int.from_bytes(h.digest(), "big")
        n += 1
    return Digest(n, total % MOD)
