"""Generated KHBS aid commands."""

from __future__ import annotations

from edge_agent.app import teller
from edge_agent.devtools.sim.device import DeviceBase
from edge_agent.devtools.sim.world import VERIFICATIONS
from edge_agent.domain.aid import allowance_key, entitlement_key
from edge_agent.domain.common import card_key, card_left


class AidActions(DeviceBase):
    """Redeem the entitlements due at this counter; now and then void a redemption."""

    def redeem(self) -> bool:
        ents, month, i = self.pool.entitlements, self.today[:7], self.s.next_entitlement
        while i < len(ents) and ents[i].cycle <= month:
            e, i = ents[i], i + 1
            if not self.pool.redeems_at(self.counter, e):
                continue
            v = self.view(entitlement_key(e.id))
            card = self.view(card_key(e.card_uid)) or {}
            if v is None or v["redeemed_by"] is not None or card.get("blocked"):
                continue
            drawn = 0 if v["value"] is None else e.worth
            if drawn > card_left(card):  # the family spent it at the shop first
                continue
            allowance_id = self.pool.allowance_id(e.program, e.cycle)
            allowance = self.view(allowance_key(allowance_id))
            if allowance is not None and (
                allowance["used_count"] >= allowance["max_count"]
                or allowance["used_value"] + e.worth > allowance["max_value"]
            ):
                continue  # the cooperative's other counters used it up (COOP scope)
            if allowance is not None:
                self.shadow[allowance_key(allowance_id)] = {
                    **allowance,
                    "used_count": allowance["used_count"] + 1,
                    "used_value": allowance["used_value"] + e.worth,
                }
            self.s.next_entitlement = i
            self.shadow[entitlement_key(e.id)] = {**v, "redeemed_by": "queued"}
            self.shadow[card_key(e.card_uid)] = {**card, "spent": card.get("spent", 0) + drawn}
            how = self.rng.choices(VERIFICATIONS, (85, 10, 5))[0]
            return self.rec(
                teller.redeem_aid,
                e.id,
                card_uid=e.card_uid,
                value=e.worth,
                verification=how,
                allowance_id=allowance_id,
            )
        self.s.next_entitlement = i
        return False

    def void_redemption(self) -> bool:
        if not self.s.redemptions:
            return False
        ent, pending = self.s.redemptions[-1]
        self.shadow[entitlement_key(ent)] = {
            **(self.view(entitlement_key(ent)) or {}),
            "redeemed_by": None,
        }
        return self.rec(
            teller.void_redemption,
            ent,
            redemption_event_id=self.out.event_id(pending),
            reason="kartu tertempel dua kali, keluarga minta dibatalkan",
        )
