"""The full check of a device's store: ``kopsync edge verify``, and what repair folds.

A store is intact when:

1. its own log is the signed, gapless chain that ends at its head
   (:func:`edge_agent.app.verify.verify_chain`);
2. every row of every other signed log verifies: a downlink event against its issuer's key
   as the seal pins it (the central's, pinned at the first hello; the simulator's on a
   simulated device), by :func:`edge_agent.app.centralcheck.check_central_envelope`,
   stored under the issuer and seq it carries; a sibling's event against the key the
   pinned central registered for it (``DeviceRegistered``);
3. its seal matches every view row and every row of every signed log: a deleted downlink
   event shows only here, since nothing else says which central events a device holds;
4. its rule views equal the fold, in the total order, of every event of the signed logs
   that verified, by :func:`edge_agent.domain.fold.fold`: the fold the store records with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from edge_agent.adapters import logs
from edge_agent.adapters.viewtable import unpack
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.centralcheck import Refusal, check_central_envelope
from edge_agent.app.verify import VerifyReport
from edge_agent.domain.base import View
from edge_agent.domain.fold import fold, in_total_order
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError

# Checks a row (stream, seq, stored bytes) of a signed log: its envelope, or why not.
RowCheck = Callable[[str, int, bytes], Envelope | str]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A stored row of a signed log that does not verify."""

    table: str
    stream: str
    seq: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"log": self.table, "stream": self.stream, "seq": self.seq, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ViewDiff:
    """A rule view as stored and as the fold of the signed logs makes it (None: absent)."""

    key: str
    stored: View | None
    folded: View | None


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """Everything :func:`examine` found; ``ok`` when nothing is wrong."""

    chain: VerifyReport
    rows_checked: dict[str, int]
    bad_rows: tuple[BadRow, ...]
    seal: tuple[tuple[str, str], ...]
    views_checked: int
    differ: tuple[ViewDiff, ...]
    folded: dict[str, View] = field(repr=False, compare=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not (self.bad_rows or self.seal or self.differ)


def examine(agent: EdgeAgent) -> IntegrityReport:
    """Check the whole store (the four points above); reads only."""
    chain = agent.verify()
    checks = row_checks(agent)
    missing = set(logs.SIGNED_LOGS) - set(checks)
    assert not missing, f"no verifier for the signed logs {missing}"
    bad: list[BadRow] = []
    counted: dict[str, int] = {}
    streams = [
        _verified(agent, table, stream, checks[table], bad, counted)
        for table in logs.SIGNED_LOGS
        for stream in agent.store.streams(table)
    ]
    folded = fold(in_total_order(streams))
    stored = {k: unpack(v) for k, v in agent.store.all_views() if not k.startswith("@")}
    differ = tuple(
        ViewDiff(k, stored.get(k), folded.get(k))
        for k in sorted(stored.keys() | folded.keys())
        if stored.get(k) != folded.get(k)
    )
    seal = tuple(agent.store.check_seal(full=True))
    return IntegrityReport(chain, counted, tuple(bad), seal, len(stored), differ, folded)


def row_checks(agent: EdgeAgent) -> dict[str, RowCheck]:
    """How each signed log's rows are verified.

    The device's own rows are decoded only: :func:`edge_agent.app.verify.verify_chain`
    checks their signatures and links in a pass of its own.
    """
    pins = agent.store.pins()

    def own(stream: str, seq: int, data: bytes) -> Envelope | str:
        try:
            return Envelope.decode(data)
        except KopsyncError as exc:
            return str(exc)

    def central(stream: str, seq: int, data: bytes) -> Envelope | str:
        if pins is None:
            return "the store's seal does not verify, so no issuer's key can be trusted"
        if stream not in pins:
            return f"issuer {stream} is not pinned on this device"
        # The type was judged when the event was received: the simulator's founders arrive
        # as device events (edge_agent.devtools.sim.reference); the signature is what counts.
        result = check_central_envelope(
            data, pins[stream], stream, agent.coop_id, seq, central_only=False
        )
        if isinstance(result, Refusal):
            return f"{result.reason}: {result.detail}"
        return result

    registry = _registry(agent, pins)

    def sibling(stream: str, seq: int, data: bytes) -> Envelope | str:
        try:
            env = Envelope.decode(data)
        except KopsyncError as exc:
            return str(exc)
        key = registry.get(stream)
        if key is None:
            return f"device {stream} is not registered to this cooperative by the central"
        try:
            env.verify_signature(key)
        except KopsyncError as exc:
            return f"bad_signature: {exc}"
        return env

    return {logs.DEVICE_LOG: own, logs.DOWNLINK_LOG: central, logs.SIBLING_LOG: sibling}


def _registry(agent: EdgeAgent, pins: dict[str, bytes] | None) -> dict[str, bytes]:
    """The siblings' keys as the pinned central registered them (``DeviceRegistered``)."""
    keys: dict[str, bytes] = {}
    for env in agent.store.central_events():
        if env.type != "DeviceRegistered" or env.coop_id != agent.coop_id:
            continue
        if pins is None or pins.get(env.device_id) is None:
            continue
        try:
            env.verify_signature(pins[env.device_id])
        except KopsyncError:
            continue
        keys[env.aggregate_id] = bytes(env.payload["public_key"])
    return keys


def _verified(
    agent: EdgeAgent,
    table: str,
    stream: str,
    check: RowCheck,
    bad: list[BadRow],
    counted: dict[str, int],
) -> Iterator[Envelope]:
    """The events of one stream that verify, in order; the others go to ``bad``."""
    last = None
    for seq, data in agent.store.stream_rows(table, stream):
        counted[table] = counted.get(table, 0) + 1
        result = check(stream, seq, data)
        if isinstance(result, Envelope) and (result.device_id, result.seq) != (stream, seq):
            result = (
                f"the row stored as {stream} seq {seq} holds {result.device_id} seq {result.seq}"
            )
        if isinstance(result, Envelope) and last is not None and result.order_key <= last:
            result = f"seq {seq} is not after the previous event of {stream} in the total order"
        if isinstance(result, str):
            bad.append(BadRow(table, stream, seq, result))
            continue
        last = result.order_key
        yield result
