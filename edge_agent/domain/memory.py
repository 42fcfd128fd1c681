"""Views in memory, used in the same order as the edge store: a fake for tests and demos.

Each event runs as the store runs it inside one transaction: validate and upcast the
payload, load ``keys`` then ``more_keys``, ``check`` (local events only), ``apply``, save
every loaded view. Views are kept encoded with the canonical codec, so a view that is
not plain msgpack (a float, a set, a tuple) fails here just as it would in the store,
and a refused event leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from edge_agent.domain import rule_for
from edge_agent.domain.base import Proposed, View, Views, load_for
from schemas import REGISTRY
from sync_core import codec
from sync_core.errors import RuleViolation


class MemoryViews:
    """A device's rule views in a dict."""

    def __init__(self, device_id: str = "dev-1", coop_id: str = "6472021005-KMP") -> None:
        self.device_id = device_id
        self.coop_id = coop_id
        self.saved: dict[str, bytes] = {}
        self._count = 0

    def propose(
        self,
        type: str,
        aggregate_id: str,
        payload: dict[str, Any],
        *,
        version: int | None = None,
        device_id: str | None = None,
    ) -> Proposed:
        """A schema-checked event at the latest version, with a fresh event id."""
        v = REGISTRY.latest_version(type) if version is None else version
        checked = REGISTRY.validate(type, payload, v)
        _, current = REGISTRY.upcast(type, v, checked)
        self._count += 1
        return Proposed(
            type,
            aggregate_id,
            current,
            f"ev-{self._count:06d}",
            device_id or self.device_id,
            self.coop_id,
        )

    def record(self, type: str, aggregate_id: str, payload: dict[str, Any], **kw: Any) -> Proposed:
        """Record a local event: checked, then applied; raises ``RuleViolation`` if refused."""
        ev = self.propose(type, aggregate_id, payload, **kw)
        self.run(ev, check=True)
        return ev

    def receive(self, type: str, aggregate_id: str, payload: dict[str, Any], **kw: Any) -> Proposed:
        """Receive a fact (a central event from the downlink): applied, never checked."""
        ev = self.propose(type, aggregate_id, payload, **kw)
        self.run(ev, check=False)
        return ev

    def refusal(
        self, type: str, aggregate_id: str, payload: dict[str, Any], **kw: Any
    ) -> RuleViolation:
        """Record an event that must be refused and return the refusal."""
        before = dict(self.saved)
        try:
            self.record(type, aggregate_id, payload, **kw)
        except RuleViolation as exc:
            if self.saved != before:
                raise AssertionError(f"refused {type} changed the views") from exc
            return exc
        raise AssertionError(f"{type} {aggregate_id} was recorded; a refusal was expected")

    def run(self, ev: Proposed, *, check: bool) -> None:
        rule = rule_for(ev.type)
        views: Views = {}
        load_for(rule, ev, views, lambda keys: self._load(views, keys))
        if check:
            rule.check(views, ev)
        rule.apply(views, ev)
        encoded = {k: None if v is None else _encode(k, v) for k, v in views.items()}
        for k, data in encoded.items():
            if data is None:
                self.saved.pop(k, None)
            else:
                self.saved[k] = data

    def __getitem__(self, key: str) -> View:
        """The view at ``key``; ``KeyError`` if there is none."""
        view = self.view(key)
        if view is None:
            raise KeyError(key)
        return view

    def view(self, key: str) -> View | None:
        data = self.saved.get(key)
        if data is None:
            return None
        view: View = codec.decode(data)
        return view

    def _load(self, views: Views, keys: list[str]) -> None:
        for k in keys:
            views[k] = self.view(k)


def _encode(key: str, view: View) -> bytes:
    data = codec.encode(view)
    if codec.decode(data) != view:
        raise TypeError(f"view '{key}' does not survive msgpack unchanged (a tuple?): {view!r}")
    return data
