"""Registry from (type, version) to event schema, payload validation and upcasting."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from schemas.catalog import CATALOG, EventSchema, Origin
from schemas.fields import Field, FieldProblem, check_fields, check_value
from schemas.upcasters import UPCASTERS, Upcaster
from sync_core.errors import UnknownEventType, ValidationError

MAX_PAYLOAD_BYTES = 64 * 1024


class Registry:
    """Every known version of every event type."""

    def __init__(
        self, schemas: Iterable[EventSchema], upcasters: dict[tuple[str, int], Upcaster]
    ) -> None:
        self._by_key: dict[tuple[str, int], EventSchema] = {}
        self._latest: dict[str, int] = {}
        for s in schemas:
            if s.key in self._by_key:
                raise ValueError(f"schema {s.key} registered twice")
            self._by_key[s.key] = s
            self._latest[s.type] = max(self._latest.get(s.type, 0), s.version)
        for (t, v), _ in upcasters.items():
            if (t, v) not in self._by_key or (t, v + 1) not in self._by_key:
                raise ValueError(f"upcaster for {t} v{v} has no v{v} or v{v + 1} schema")
        for t, latest in self._latest.items():
            for v in range(1, latest):
                if (t, v) in self._by_key and (t, v) not in upcasters:
                    raise ValueError(f"{t} v{v} has no upcaster to v{v + 1}")
        self._upcasters = dict(upcasters)

    def __iter__(self) -> Any:
        return iter(sorted(self._by_key.values(), key=lambda s: (s.area, s.type, s.version)))

    @property
    def types(self) -> list[str]:
        return sorted(self._latest)

    def latest_version(self, event_type: str) -> int:
        try:
            return self._latest[event_type]
        except KeyError:
            raise UnknownEventType(
                f"unknown event type '{event_type}'; `kopsync schemas list` shows the known types"
            ) from None

    def get(self, event_type: str, version: int | None = None) -> EventSchema:
        v = self.latest_version(event_type) if version is None else version
        try:
            return self._by_key[(event_type, v)]
        except KeyError:
            raise UnknownEventType(
                f"unknown version {v} of event type '{event_type}' "
                f"(latest is {self._latest.get(event_type, 'none')})"
            ) from None

    def types_from(self, origin: Origin) -> list[str]:
        return [t for t in self.types if origin in self.get(t).origin]

    def validate(self, event_type: str, payload: Any, version: int | None = None) -> dict[str, Any]:
        """Return the checked payload, or raise :class:`ValidationError` naming the field."""
        schema = self.get(event_type, version)
        try:
            checked = check_fields(schema.fields, payload)
            check = CROSS_CHECKS.get(event_type)
            if check is not None:
                check(checked)
            return checked
        except FieldProblem as exc:
            raise ValidationError(event_type, exc.path, exc.problem) from None

    def upcast(
        self, event_type: str, version: int, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Bring a payload of any known version up to the latest version."""
        latest = self.latest_version(event_type)
        self.get(event_type, version)
        while version < latest:
            payload = self._upcasters[(event_type, version)](payload)
            version += 1
        return version, payload


def _profile_value(payload: dict[str, Any]) -> None:
    """A changed profile field must be valid as that field is at registration."""
    registration = {f.name: f for f in _latest_fields("MemberRegistered")}
    registration["address"] = Field("address", "str", pii="address")
    check_value(registration[payload["field"]], payload["value"], "value")


def _latest_fields(event_type: str) -> tuple[Field, ...]:
    return max((s for s in CATALOG if s.type == event_type), key=lambda s: s.version).fields


CROSS_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "MemberProfileFieldChanged": _profile_value,
}

REGISTRY = Registry(CATALOG, UPCASTERS)
