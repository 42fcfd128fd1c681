"""The list of NATS users (public nkeys only) and the pure changes ``kopsync admin`` makes to it.

It is kept as JSON beside the generated server include file (``users.json`` next to
``users.conf``) and is the only input of :func:`central_projector.security.render.render`:
the include file is always regenerated whole, never edited. No secret is in it: a seed
goes to its user's file once, when the key is made, and is not kept by the province.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from central_projector.security.policy import check_partner_id
from sync_core.errors import UsageError
from sync_core.ids import check_coop_id, check_device_id

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class DeviceUser:
    coop_id: str
    nkey: str
    added_at: str


@dataclass(frozen=True, slots=True)
class PartnerUser:
    nkey: str
    added_at: str


@dataclass(frozen=True, slots=True)
class HubUser:
    """A cooperative's hub: the credential its leaf node links to the province with."""

    nkey: str
    added_at: str


@dataclass(frozen=True, slots=True)
class Revocation:
    """A withdrawn credential, kept so the history of who could connect stays readable."""

    kind: str  # "device" | "partner" | "central" | "hub"
    id: str
    nkey: str
    revoked_at: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AuthRegistry:
    central: str | None = None  # the central's public nkey
    devices: Mapping[str, DeviceUser] = field(default_factory=dict)
    partners: Mapping[str, PartnerUser] = field(default_factory=dict)
    hubs: Mapping[str, HubUser] = field(default_factory=dict)  # by cooperative
    revoked: tuple[Revocation, ...] = ()

    # --- changes (each returns a new registry) -------------------------------------------
    def with_central(self, nkey: str, *, rotate: bool, now: str) -> AuthRegistry:
        check_user_nkey(nkey)
        if self.central is not None and not rotate:
            raise UsageError("the central user exists already; pass --rotate to replace its key")
        revoked = self.revoked
        if self.central is not None:
            revoked += (Revocation("central", "central", self.central, now, "rotated"),)
        return replace(self, central=nkey, revoked=revoked)

    def with_device(self, coop_id: str, device_id: str, nkey: str, *, now: str) -> AuthRegistry:
        check_coop_id(coop_id)
        check_device_id(device_id)
        check_user_nkey(nkey)
        if device_id in self.devices:
            raise UsageError(
                f"device {device_id} has NATS credentials already; "
                f"revoke them first (kopsync admin device revoke --device {device_id})"
            )
        self._check_unused(nkey)
        devices = {**self.devices, device_id: DeviceUser(coop_id, nkey, now)}
        return replace(self, devices=devices)

    def without_device(self, device_id: str, *, now: str, reason: str) -> AuthRegistry:
        user = self.devices.get(device_id)
        if user is None:
            raise UsageError(f"device {device_id} has no NATS credentials to revoke")
        devices = {k: v for k, v in self.devices.items() if k != device_id}
        gone = Revocation("device", device_id, user.nkey, now, reason)
        return replace(self, devices=devices, revoked=(*self.revoked, gone))

    def with_partner(self, partner_id: str, nkey: str, *, now: str) -> AuthRegistry:
        check_partner_id(partner_id)
        check_user_nkey(nkey)
        if partner_id in self.partners:
            raise UsageError(
                f"partner {partner_id} has NATS credentials already; revoke them first"
            )
        self._check_unused(nkey)
        return replace(self, partners={**self.partners, partner_id: PartnerUser(nkey, now)})

    def without_partner(self, partner_id: str, *, now: str, reason: str) -> AuthRegistry:
        user = self.partners.get(partner_id)
        if user is None:
            raise UsageError(f"partner {partner_id} has no NATS credentials to revoke")
        partners = {k: v for k, v in self.partners.items() if k != partner_id}
        gone = Revocation("partner", partner_id, user.nkey, now, reason)
        return replace(self, partners=partners, revoked=(*self.revoked, gone))

    def with_hub(self, coop_id: str, nkey: str, *, now: str) -> AuthRegistry:
        check_coop_id(coop_id)
        check_user_nkey(nkey)
        if coop_id in self.hubs:
            raise UsageError(
                f"the hub of cooperative {coop_id} has NATS credentials already; "
                f"revoke them first (kopsync admin hub revoke --coop {coop_id})"
            )
        self._check_unused(nkey)
        return replace(self, hubs={**self.hubs, coop_id: HubUser(nkey, now)})

    def without_hub(self, coop_id: str, *, now: str, reason: str) -> AuthRegistry:
        user = self.hubs.get(coop_id)
        if user is None:
            raise UsageError(f"the hub of cooperative {coop_id} has no NATS credentials to revoke")
        hubs = {k: v for k, v in self.hubs.items() if k != coop_id}
        gone = Revocation("hub", coop_id, user.nkey, now, reason)
        return replace(self, hubs=hubs, revoked=(*self.revoked, gone))

    def devices_of(self, coop_id: str) -> list[tuple[str, DeviceUser]]:
        """The cooperative's devices that hold a credential, by id."""
        return sorted((k, v) for k, v in self.devices.items() if v.coop_id == coop_id)

    def _check_unused(self, nkey: str) -> None:
        used = {self.central} | {d.nkey for d in self.devices.values()}
        used |= {p.nkey for p in self.partners.values()}
        used |= {h.nkey for h in self.hubs.values()}
        if nkey in used:
            raise UsageError(f"nkey {nkey[:12]}… belongs to another user already")

    # --- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "central": self.central,
            "devices": {
                k: {"coop_id": v.coop_id, "nkey": v.nkey, "added_at": v.added_at}
                for k, v in sorted(self.devices.items())
            },
            "partners": {
                k: {"nkey": v.nkey, "added_at": v.added_at}
                for k, v in sorted(self.partners.items())
            },
            "hubs": {
                k: {"nkey": v.nkey, "added_at": v.added_at} for k, v in sorted(self.hubs.items())
            },
            "revoked": [
                {"kind": r.kind, "id": r.id, "nkey": r.nkey, "revoked_at": r.revoked_at}
                | ({"reason": r.reason} if r.reason else {})
                for r in self.revoked
            ],
        }

    @classmethod
    def from_json(cls, doc: Any, source: str = "<registry>") -> AuthRegistry:
        try:
            if doc.get("version") != FORMAT_VERSION:
                raise UsageError(f"{source}: unknown format version {doc.get('version')!r}")
            central = doc.get("central")
            devices = {
                check_device_id(k): DeviceUser(
                    check_coop_id(v["coop_id"]), v["nkey"], v["added_at"]
                )
                for k, v in doc.get("devices", {}).items()
            }
            partners = {
                check_partner_id(k): PartnerUser(v["nkey"], v["added_at"])
                for k, v in doc.get("partners", {}).items()
            }
            hubs = {
                check_coop_id(k): HubUser(v["nkey"], v["added_at"])
                for k, v in doc.get("hubs", {}).items()
            }
            revoked = tuple(
                Revocation(r["kind"], r["id"], r["nkey"], r["revoked_at"], r.get("reason", ""))
                for r in doc.get("revoked", [])
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise UsageError(f"{source} is not a kopsync NATS user registry: {exc!r}") from None
        keys = [central] if central is not None else []
        keys += [d.nkey for d in devices.values()] + [p.nkey for p in partners.values()]
        keys += [h.nkey for h in hubs.values()]
        for nkey in keys:
            check_user_nkey(nkey)
        return cls(central, devices, partners, hubs, revoked)


def check_user_nkey(nkey: object) -> str:
    """A public user nkey: 56 base32 characters starting with ``U``."""
    if not (isinstance(nkey, str) and len(nkey) == 56 and nkey.startswith("U") and nkey.isalnum()):
        raise UsageError(f"{nkey!r} is not a public user nkey (56 characters starting with 'U')")
    return nkey
