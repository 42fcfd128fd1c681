"""The partners file: which integration partner may see which events, and its HMAC key.

A TOML file with one ``[[partner]]`` table per partner::

    [[partner]]
    id = "bank-kalteng"                        # lower-case; stream KOP_PARTNER_BANK-KALTENG
    hmac_key_file = "keys/bank-kalteng.key"    # 64+ hex digits (32+ bytes); relative to this file
    regions = ["62"]                           # province/regency/... code prefixes, or ["*"]
    areas = ["savings", "loans", "stimulus"]   # event areas of the catalog, or ["*"]
    types = ["LoanDisbursed"]                  # optional: only these types (of the allowed areas)
    retention_days = 30                        # optional: how long the partner stream keeps events

``hmac_key_hex`` may stand instead of ``hmac_key_file`` (for tests; a key in a config file is
easier to leak). The key stays with the province: a partner that had it could compute the
pseudonym of every possible NIK. Every partner needs its own key, so two partners cannot join
their data on pseudonyms. Any mistake is a :class:`~sync_core.errors.UsageError` naming the file,
the partner and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.registry import REGISTRY, Registry
from sync_core.errors import UsageError
from sync_core.protocol import partner_stream

MIN_KEY_BYTES = 32
DEFAULT_RETENTION_DAYS = 30.0
ALL = "*"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}\Z")
_REGION = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{10})\Z")
_HEX = re.compile(r"^[0-9a-fA-F]+\Z")
_KEYS = {"id", "hmac_key_file", "hmac_key_hex", "regions", "areas", "types", "retention_days"}


@dataclass(frozen=True, slots=True)
class Partner:
    """One partner's scope and key. ``regions``/``types`` of ``None`` mean all of them."""

    id: str
    key: bytes = field(repr=False)
    regions: tuple[str, ...] | None
    areas: frozenset[str]
    types: frozenset[str] | None = None
    retention_days: float = DEFAULT_RETENTION_DAYS

    def allows(self, coop_id: str, area: str, event_type: str) -> bool:
        """Whether an event of ``event_type`` (in ``area``) of ``coop_id`` is for this partner."""
        if area not in self.areas:
            return False
        if self.types is not None and event_type not in self.types:
            return False
        if self.regions is None:
            return True
        code = coop_id.split("-", 1)[0]  # a cooperative id starts with its region code
        return any(code.startswith(prefix) for prefix in self.regions)

    @property
    def stream(self) -> str:
        # Ids are lower-case, so upper-casing them cannot make two partners share a stream.
        return partner_stream(self.id)

    @property
    def consumer(self) -> str:
        """The durable consumer on KOP_EVENTS that feeds this partner."""
        return f"partner-{self.id}"


@dataclass(frozen=True, slots=True)
class PartnersConfig:
    partners: tuple[Partner, ...]
    source: str = "<config>"

    def get(self, partner_id: str) -> Partner:
        for p in self.partners:
            if p.id == partner_id:
                return p
        raise UsageError(f"{self.source}: no partner '{partner_id}'")


def load(
    path: Path, registry: Registry = REGISTRY, settings_keys: Collection[str] = ()
) -> PartnersConfig:
    """Read and check a partners file (``settings_keys``: other top-level keys the file may
    hold, the settings of the process that reads it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"partner config {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read partner config {path}: {exc.strerror}") from None
    return parse(
        text,
        source=str(path),
        base_dir=path.parent,
        registry=registry,
        settings_keys=settings_keys,
    )


def parse(
    text: str,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    registry: Registry = REGISTRY,
    settings_keys: Collection[str] = (),
) -> PartnersConfig:
    """Check the TOML text of a partners file; relative key files are under ``base_dir``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - {"partner"} - set(settings_keys))
    if unknown:
        raise UsageError(
            f"{source}: unknown key(s) {', '.join(unknown)}; partners are [[partner]] tables"
        )
    tables = doc.get("partner")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"{source}: no [[partner]] table; add one per partner")
    partners = tuple(
        _partner(t, f"{source}: partner #{i + 1}", base_dir or Path("."), registry)
        for i, t in enumerate(tables)
    )
    _distinct(partners, source)
    return PartnersConfig(partners, source)


def _partner(table: Any, where: str, base_dir: Path, registry: Registry) -> Partner:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: must be a table")
    pid = table.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        raise UsageError(
            f"{where}: 'id' must be 1-32 lower-case letters, digits, '-' or '_', got {pid!r}"
        )
    where = f"{where} ({pid})"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}")
    areas_known = sorted({s.area for s in registry})
    areas = _names(table, "areas", where, areas_known, required=True)
    assert areas is not None
    types = _names(table, "types", where, registry.types, required=False)
    if types is not None:
        for t in sorted(types):
            area = registry.get(t).area
            if area not in areas:
                raise UsageError(
                    f"{where}: 'types' lists {t}, of area '{area}', which 'areas' does not allow"
                )
    return Partner(
        id=pid,
        key=_key(table, where, base_dir),
        regions=_regions(table, where),
        areas=frozenset(areas),
        types=None if types is None else frozenset(types),
        retention_days=_retention(table, where),
    )


def _names(
    table: Mapping[str, Any], key: str, where: str, known: list[str], *, required: bool
) -> set[str] | None:
    if key not in table:
        if required:
            raise UsageError(f"{where}: '{key}' is required (a list, or [\"*\"] for all)")
        return None
    value = table[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: '{key}' must be a non-empty list of strings")
    if value == [ALL]:
        return set(known)
    bad = [v for v in value if v not in known]
    if bad:
        raise UsageError(
            f"{where}: '{key}' has unknown value(s) {', '.join(bad)}; known: {', '.join(known)}"
        )
    return set(value)


def _regions(table: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
    value = table.get("regions")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UsageError(
            f"{where}: 'regions' must be a non-empty list of region codes "
            '(e.g. ["62", "6401"]) or ["*"]'
        )
    if value == [ALL]:
        return None
    bad = [v for v in value if not _REGION.match(v)]
    if bad:
        raise UsageError(
            f"{where}: 'regions' has {', '.join(repr(b) for b in bad)}; a region is a "
            "Kemendagri code without dots: 2 (province), 4 (regency), 6 or 10 digits"
        )
    return tuple(sorted(set(value)))


def _key(table: Mapping[str, Any], where: str, base_dir: Path) -> bytes:
    has_file, has_hex = "hmac_key_file" in table, "hmac_key_hex" in table
    if has_file == has_hex:
        raise UsageError(f"{where}: give exactly one of 'hmac_key_file' and 'hmac_key_hex'")
    if has_file:
        name = table["hmac_key_file"]
        if not isinstance(name, str) or not name:
            raise UsageError(f"{where}: 'hmac_key_file' must be a file name")
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where}: 'hmac_key_file' {path} cannot be read ({exc})") from None
        what = f"'hmac_key_file' {path}"
    else:
        text = table["hmac_key_hex"]
        if not isinstance(text, str):
            raise UsageError(f"{where}: 'hmac_key_hex' must be a string of hex digits")
        what = "'hmac_key_hex'"
    if not _HEX.match(text) or len(text) % 2:
        raise UsageError(
            f"{where}: {what} must hold hex digits (`kopsync partner keygen FILE` makes one)"
        )
    key = bytes.fromhex(text)
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(
            f"{where}: {what} holds {len(key)} bytes; an HMAC key needs at least {MIN_KEY_BYTES}"
        )
    return key


def _retention(table: Mapping[str, Any], where: str) -> float:
    value = table.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3650:
        raise UsageError(
            f"{where}: 'retention_days' must be a number of days above 0 and at most 3650"
        )
    return float(value)


def _distinct(partners: tuple[Partner, ...], source: str) -> None:
    seen: dict[str, str] = {}
    keys: dict[bytes, str] = {}
    for p in partners:
        if p.id in seen:
            raise UsageError(f"{source}: partner id '{p.id}' appears twice")
        seen[p.id] = p.id
        if p.key in keys:
            raise UsageError(
                f"{source}: partners '{keys[p.key]}' and '{p.id}' share an HMAC key; each "
                "partner needs its own, or the two could join their data on pseudonyms"
            )
        keys[p.key] = p.id
