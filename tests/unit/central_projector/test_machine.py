"""Devices go offline and online; the incremental projection always equals a full replay."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support import histories as H
from support.projection import conflicts_of, project, snapshot

from central_projector.projection.folds import Event, MemoryProjector


class OfflineDevices(RuleBasedStateMachine):
    """Three devices record while offline and upload (sometimes twice) when back online."""

    def __init__(self) -> None:
        super().__init__()
        self.central = MemoryProjector()
        self.delivered: list[Event] = []
        self.logs: dict[str, list[Event]] = {d: [] for d, _ in H.DEVICES}
        self.sent: dict[str, int] = {d: 0 for d, _ in H.DEVICES}
        self.online: dict[str, bool] = {d: True for d, _ in H.DEVICES}
        self.clock: dict[str, int] = {d: H.T0 for d, _ in H.DEVICES}
        self.resolved: set[str] = set()
        self.central_seq = 0
        self.deliver([self.central_event(t, a, p) for t, a, p in H.central_facts()])

    def central_event(self, type_: str, agg: str, payload: dict[str, Any]) -> Event:
        self.central_seq += 1
        key = (H.T0 + self.central_seq, 0, H.CENTRAL, self.central_seq)
        return Event(key, f"c-{self.central_seq}", H.COOP, type_, agg, payload)

    def deliver(self, events: list[Event]) -> None:
        self.central.apply(events)
        self.delivered.extend(events)

    @rule(
        device=st.sampled_from([d for d, _ in H.DEVICES]),
        action=H.edge_actions,
        tick=st.sampled_from((0, 500, 3000)),
    )
    def record(self, device: str, action: H.Action, tick: int) -> None:
        """A device records one event with its own hybrid clock, online or not."""
        log = self.logs[device]
        self.clock[device] += tick
        prev = log[-1].key if log else (0, 0, device, 0)
        wall = max(self.clock[device], prev[0])
        counter = prev[1] + 1 if wall == prev[0] else 0
        coop = dict(H.DEVICES)[device]
        type_, agg, payload = action
        log.append(Event((wall, counter, device, len(log) + 1), f"{device}-{len(log) + 1}",
                         coop, type_, agg, dict(payload)))  # fmt: skip

    @rule(device=st.sampled_from([d for d, _ in H.DEVICES]))
    def go_offline(self, device: str) -> None:
        """The satellite link of a device drops."""
        self.online[device] = False

    @rule(device=st.sampled_from([d for d, _ in H.DEVICES]), resend=st.integers(0, 3))
    def go_online_and_sync(self, device: str, resend: int) -> None:
        """A device comes back and uploads its backlog, re-sending a few already sent."""
        self.online[device] = True
        log, start = self.logs[device], self.sent[device]
        batch = log[max(0, start - resend) :]
        self.sent[device] = len(log)
        self.deliver(batch)

    @precondition(lambda self: any(i["status"] == "OPEN" for i in conflicts_of(self.central)))
    @rule(data=st.data())
    def resolve(self, data: st.DataObject) -> None:
        """An operator decides one open item."""
        item = data.draw(
            st.sampled_from([i for i in conflicts_of(self.central) if i["status"] == "OPEN"])
        )
        payload = {"decision": "ACCEPT", "note": "diperiksa"}
        self.deliver([self.central_event("ConflictResolved", item["id"], payload)])
        self.resolved.add(item["id"])

    @invariant()
    def incremental_equals_full_replay(self) -> None:
        """What was projected batch by batch equals a replay of the delivered set."""
        assert snapshot(self.central) == snapshot(project(self.delivered))

    @invariant()
    def resolved_items_stay_resolved(self) -> None:
        """No later upload reopens a decided item."""
        status = {i["id"]: i["status"] for i in conflicts_of(self.central)}
        assert all(status.get(cid) == "RESOLVED" for cid in self.resolved)

    @invariant()
    def savings_are_conserved(self) -> None:
        """Every balance is Σ of the movements delivered for it."""
        for row in self.central.state.rows("savings").values():
            assert row["balance"] == (
                row["deposits"]
                - row["withdrawals"]
                - row["reversed_deposits"]
                + row["reversed_withdrawals"]
            )


OfflineDevices.TestCase.settings = settings(settings.default, stateful_step_count=25, deadline=None)
test_offline_devices = OfflineDevices.TestCase
