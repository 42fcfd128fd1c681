"""Decide what one canonical event becomes for one partner (pure: the fan-out then acts).

Subjects of partner streams, one stream ``KOP_PARTNER_{ID}`` per partner::

    kop.partner.{partner}.{prov}.{regency}.{coop}.{area}.{type}

The same tokens as the canonical ``kop.ev.…`` subject, so a partner filters by region,
cooperative, area and type with subject wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from central_projector.partners.config import Partner
from central_projector.partners.pseudonymise import encode_view, partner_view
from schemas.registry import REGISTRY, Registry
from sync_core import subjects
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError, UnknownEventType, UsageError
from sync_core.ids import check_coop_id, check_id, region_of

PREFIX = f"{subjects.PREFIX}.partner"
# Headers of the canonical message a partner may see; anything else stays in the province.
PASSED_HEADERS = ("Kop-Flags",)


def partner_subject(partner_id: str, coop_id: str, area: str, event_type: str) -> str:
    prov, regency = region_of(check_coop_id(coop_id))
    partner_id = check_id(partner_id, "partner id")
    area, event_type = check_id(area, "area"), check_id(event_type, "type")
    return f"{PREFIX}.{partner_id}.{prov}.{regency}.{coop_id}.{area}.{event_type}"


def partner_wildcard(partner_id: str) -> str:
    return f"{PREFIX}.{check_id(partner_id, 'partner id')}.>"


_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+\Z")


@dataclass(frozen=True, slots=True)
class PartnerFilter:
    """A subscriber's filter on partner topics: ``kop.partner.`` then tokens or wildcards."""

    tokens: tuple[str, ...]

    @property
    def partner(self) -> str | None:
        """The partner the filter names, or ``None`` when it is a wildcard."""
        return None if self.tokens[2] in ("*", ">") else self.tokens[2]

    def narrow(self, partner_id: str) -> str | None:
        """The filter restricted to one partner's stream, or ``None`` if it cannot match it."""
        if self.tokens[2] == ">":
            return f"{PREFIX}.{partner_id}.>"
        if self.tokens[2] not in ("*", partner_id):
            return None
        return ".".join([*self.tokens[:2], partner_id, *self.tokens[3:]])


def parse_partner_filter(text: str) -> PartnerFilter:
    """A partner-topic filter, or a UsageError saying what is wrong with it."""
    tokens = text.split(".")
    example = f"{PREFIX}.bank-kalteng.62.>"
    if tokens[:2] != PREFIX.split(".") or len(tokens) < 3:
        raise UsageError(f"--filter must be a partner topic, e.g. {example}, got {text!r}")
    for i, t in enumerate(tokens[2:], start=2):
        if t == ">" and i != len(tokens) - 1:
            raise UsageError(f"--filter {text!r}: '>' may only be the last token")
        if t not in ("*", ">") and not _TOKEN.match(t):
            raise UsageError(f"--filter {text!r}: token {t!r} is not a subject token")
    return PartnerFilter(tuple(tokens))


@dataclass(frozen=True, slots=True)
class Forward:
    """Publish ``data`` on ``subject`` with ``headers`` (``Nats-Msg-Id`` among them), then ack."""

    subject: str
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def msg_id(self) -> str:
        return self.headers["Nats-Msg-Id"]


@dataclass(frozen=True, slots=True)
class Skip:
    """Outside the partner's regions, areas or types: ack, publish nothing."""


@dataclass(frozen=True, slots=True)
class Withhold:
    """Cannot be made safe for partners (undecodable, unknown schema): ack, publish nothing, log."""

    reason: str
    detail: str


Decision = Forward | Skip | Withhold
SKIP = Skip()


def route(
    partner: Partner,
    data: bytes,
    headers: Mapping[str, str] | None = None,
    registry: Registry = REGISTRY,
) -> Decision:
    """What the canonical message ``data`` (one verified envelope) becomes for ``partner``."""
    try:
        env = Envelope.decode(data)
    except KopsyncError as exc:
        return Withhold("undecodable", str(exc))
    return route_envelope(partner, env, headers, registry)


def route_envelope(
    partner: Partner,
    env: Envelope,
    headers: Mapping[str, str] | None = None,
    registry: Registry = REGISTRY,
) -> Decision:
    try:
        schema = registry.get(env.type, env.version)
    except UnknownEventType as exc:
        return Withhold("unknown_type", str(exc))
    if not partner.allows(env.coop_id, schema.area, env.type):
        return SKIP
    try:
        body = encode_view(partner_view(env, partner.key, registry))
        subject = partner_subject(partner.id, env.coop_id, schema.area, env.type)
    except KopsyncError as exc:
        return Withhold("unencodable", str(exc))
    out = {"Nats-Msg-Id": f"{env.device_id}:{env.seq}"}
    for name in PASSED_HEADERS:
        if headers and name in headers:
            out[name] = headers[name]
    return Forward(subject, body, out)
