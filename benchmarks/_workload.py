"""The projection benchmarks' workload: a deterministic stream of central store rows.

A realistic mix over many cooperatives (weights after the edge simulator: sales, savings,
loans, stock, redemptions, members, fund, shipments) plus the province's reference data
(entitlements, cards, allowances, the stimulus fund), with devices uploading in chunks after
being offline, so each projection batch meets late arrivals and order-dependent aggregates
re-derive. Rows are committed events as the central store keeps them; envelopes carry the
payload, nothing is signed (ingest is not what is measured). Used by ``projection.py``,
``replay.py``, ``partitioned_projection.py`` and, loaded by path, the replay tests.
"""

from __future__ import annotations

import random
from typing import Any

import msgpack

from schemas import REGISTRY

HASH = b"\x00" * 32
T0 = 1_767_225_600_000
SKUS = [f"SKU-{i:02d}" for i in range(24)]
LOCATIONS = ("main", "main", "main", "gudang")  # most goods arrive at the shop itself
FAMILIES = 40
PROGRAMS = ("SEMBAKO", "BERAS")
WEIGHTS = {
    "SaleRecorded": 230,
    "SavingsDeposited": 145,
    "SavingsWithdrawn": 30,
    "SavingsAccountOpened": 40,
    "MemberRegistered": 30,
    "MembershipApproved": 25,
    "MemberProfileFieldChanged": 15,
    "LoanRepaymentReceived": 60,
    "LoanApplied": 12,
    "LoanApproved": 12,
    "LoanDisbursed": 12,
    "StockReceived": 25,
    "StockAdjusted": 6,
    "StockCounted": 10,
    "ShipmentDispatched": 12,
    "ShipmentReceived": 12,
    "AidRedeemed": 70,
    "AidRedemptionVoided": 3,
    "StimulusFundUtilized": 8,
    "StimulusRevolvingRepaymentMade": 12,
    "PriceSet": 5,
    "SaleVoided": 6,
}


class Workload:
    """A deterministic stream of store rows for ``coops`` cooperatives of 3 devices each."""

    def __init__(self, coops: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.coops = [f"64{i // 100:02d}{i % 100:02d}{2001 + i:04d}" for i in range(coops)]
        self.types = list(WEIGHTS)
        self.weights = list(WEIGHTS.values())
        self.versions = {t: REGISTRY.latest_version(t) for t in REGISTRY.types}
        self.seq: dict[str, int] = {}
        self.wall: dict[str, int] = {}
        self.state: dict[str, dict[str, list[str]]] = {}

    def _row(
        self, coop: str, device: str, type_: str, agg: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        seq = self.seq.get(device, 0) + 1
        self.seq[device] = seq
        wall = self.wall.get(device, T0) + self.rng.randint(200, 40_000)
        self.wall[device] = wall
        event_id = f"{device}-{seq}"
        env = msgpack.packb({"event_id": event_id, "payload": payload})
        return {
            "device_id": device,
            "seq": seq,
            "event_id": event_id,
            "coop_id": coop,
            "type": type_,
            "version": self.versions[type_],
            "aggregate_id": agg,
            "hlc_wall": wall,
            "hlc_counter": 0,
            "prev_hash": HASH,
            "hash": HASH,
            "envelope": env,
            "received_at": wall + 1000,
            "status": "committed",
            "flags": "",
        }

    def reference(self, coop: str) -> list[dict[str, Any]]:
        """What the province issues a cooperative: fund, cards, entitlements, allowances."""
        dev = f"central-{coop}"
        out = [
            self._row(
                coop,
                dev,
                "StimulusFundAllocated",
                f"SF-{coop}",
                {"amount": 250_000_000, "program_year": 2026, "source": "APBD"},
            ),
            self._row(
                coop,
                dev,
                "StimulusTrancheDisbursed",
                f"SF-{coop}",
                {"amount": 150_000_000, "tranche_no": 1, "disbursed_on": "2026-01-05"},
            ),
        ]
        for fam in range(FAMILIES):
            card = f"K{coop}{fam:03d}"
            out.append(
                self._row(coop, dev, "CardIssued", card, {"beneficiary_id": f"B{coop}{fam}"})
            )
        self.state[coop] = {
            "fresh": [],
            "redeemed": [],
            "cycle": 0,
            "members": [],
            "accounts": [],
            "loans": [],
            "sales": [],
            "shipments": [],
            "redemptions": [],
            "niks": [],
        }
        return out + self.cycle(coop)

    def cycle(self, coop: str) -> list[dict[str, Any]]:
        """The next monthly aid cycle of a cooperative: an entitlement per family, allowances."""
        st, dev = self.state[coop], f"central-{coop}"
        st["cycle"] += 1
        cycle = f"{2026 + (st['cycle'] - 1) // 12}-{(st['cycle'] - 1) % 12 + 1:02d}"
        out = []
        for fam in range(FAMILIES):
            program, card = PROGRAMS[fam % 2], f"K{coop}{fam:03d}"
            eid = f"E{coop}{fam:03d}{cycle.replace('-', '')}"
            st["fresh"].append((eid, card, program, cycle))
            payload = {"beneficiary_id": f"B{coop}{fam}", "card_uid": card, "program": program,
                       "cycle": cycle, "value": 200_000}  # fmt: skip
            out.append(self._row(coop, dev, "EntitlementGranted", eid, payload))
        for program in PROGRAMS:
            n = FAMILIES // len(PROGRAMS)
            payload = {"scope": "COOP", "program": program, "cycle": cycle, "max_count": n,
                       "max_value": n * 200_000}  # fmt: skip
            aid = f"A{coop}{program}{cycle.replace('-', '')}"
            out.append(self._row(coop, dev, "RedemptionAllowanceAllocated", aid, payload))
        self.rng.shuffle(st["fresh"])
        return out

    def edge(self, coop: str, device: str) -> dict[str, Any]:
        """One edge event of a realistic mix."""
        r, st = self.rng, self.state[coop]
        t = r.choices(self.types, self.weights)[0]
        n = self.seq.get(device, 0) + 1
        day = f"2026-01-{1 + (n // 300) % 28:02d}"
        if t == "SaleRecorded":
            lines = [
                {"sku": r.choice(SKUS), "qty": r.randint(1, 3), "unit_price": 15_000}
                for _ in range(r.choice((1, 1, 2, 3)))
            ]
            total = sum(x["qty"] * x["unit_price"] for x in lines)
            sid = f"SL-{device}-{n}"
            st["sales"].append(sid)
            p: dict[str, Any] = {"lines": lines, "payments": [{"method": "cash", "amount": total}]}
            if r.random() < 0.12:
                fam = r.randrange(40)
                p = {
                    "lines": lines,
                    "payments": [{"method": "khbs", "amount": total}],
                    "card_uid": f"K{coop}{fam:03d}",
                }
            return self._row(coop, device, t, sid, p)
        if t == "SaleVoided" and st["sales"]:
            return self._row(coop, device, t, st["sales"][-1], {"reason": "batal"})
        if t == "MemberRegistered" or not st["members"]:
            mid = f"M-{device}-{n}"
            st["members"].append(mid)
            nik = f"6401{r.randrange(10**11, 10**12):012d}"
            if r.random() < 0.05 and st["niks"]:  # the same person at another counter
                nik = r.choice(st["niks"])
            st["niks"].append(nik)
            return self._row(
                coop,
                device,
                "MemberRegistered",
                mid,
                {
                    "nik": nik,
                    "kk_no": "6401010101900099",
                    "name": "Siti Aminah",
                    "birth_date": "1990-01-01",
                    "desa_code": "6401050012",
                },
            )
        member = r.choice(st["members"][-200:])
        if t == "MembershipApproved":
            return self._row(coop, device, t, member, {"approved_on": day})
        if t == "MemberProfileFieldChanged":
            return self._row(coop, device, t, member, {"field": "phone", "value": f"+62812{n}"})
        if t == "SavingsAccountOpened" or not st["accounts"]:
            aid = f"S-{device}-{n}"
            st["accounts"].append(aid)
            return self._row(
                coop,
                device,
                "SavingsAccountOpened",
                aid,
                {"member_id": member, "product": "SUKARELA", "opened_on": day},
            )
        if t in ("SavingsDeposited", "SavingsWithdrawn"):
            return self._row(
                coop,
                device,
                t,
                r.choice(st["accounts"][-300:]),
                {"amount": r.choice((10_000, 25_000, 100_000)), "receipt_no": f"KW{n}"},
            )
        if t == "LoanApplied" or not st["loans"]:
            lid = f"L-{device}-{n}"
            st["loans"].append(lid)
            return self._row(
                coop,
                device,
                "LoanApplied",
                lid,
                {
                    "member_id": member,
                    "amount_requested": 2_000_000,
                    "purpose": "modal",
                    "tenor_months": 12,
                },
            )
        loan = r.choice(st["loans"][-60:])
        if t == "LoanApproved":
            return self._row(
                coop,
                device,
                t,
                loan,
                {
                    "principal": 2_000_000,
                    "rate_bp": 1500,
                    "method": "flat",
                    "tenor_months": 12,
                    "first_due": "2026-02-01",
                },
            )
        if t == "LoanDisbursed":
            return self._row(coop, device, t, loan, {"amount": 2_000_000, "disbursed_on": day})
        if t == "LoanRepaymentReceived":
            return self._row(
                coop, device, t, loan, {"amount": 191_700, "paid_on": day, "receipt_no": f"KW{n}"}
            )
        if t in ("StockReceived", "StockAdjusted", "StockCounted", "PriceSet"):
            sku, loc = r.choice(SKUS), r.choice(LOCATIONS)
            p = {"sku": sku, "location": loc}
            if t == "StockReceived":
                p |= {"qty": r.randint(20, 60), "supplier": "Bulog", "doc_no": f"DO{n}"}
            elif t == "StockAdjusted":
                p |= {"delta": -r.randint(1, 3), "reason": "rusak"}
            elif t == "StockCounted":
                p |= {"counted_qty": r.randint(0, 40)}
            else:
                p = {"sku": sku, "unit_price": 15_000}
            return self._row(coop, device, t, sku, p)
        if t == "ShipmentDispatched" or (t == "ShipmentReceived" and not st["shipments"]):
            sid = f"TR-{device}-{n}"
            st["shipments"].append(sid)
            return self._row(
                coop,
                device,
                "ShipmentDispatched",
                sid,
                {
                    "origin": "gudang",
                    "destination": coop,
                    "lines": [{"sku": r.choice(SKUS), "qty": 10}],
                    "dispatched_on": day,
                },
            )
        if t == "ShipmentReceived":
            return self._row(
                coop,
                device,
                t,
                st["shipments"].pop(0),
                {
                    "lines": [{"sku": r.choice(SKUS), "qty": 10}],
                    "location": "main",
                    "received_on": day,
                },
            )
        if t in ("AidRedeemed", "AidRedemptionVoided"):
            if t == "AidRedemptionVoided" and st["redeemed"]:
                ent, rid = st["redeemed"][-1]
                payload = {"redemption_event_id": rid, "reason": "dobel"}
                return self._row(coop, device, t, ent[0], payload)
            # mostly the next family of the cycle; a few redeem again at another counter
            again = st["redeemed"] and (r.random() < 0.03 or not st["fresh"])
            ent = r.choice(st["redeemed"][-50:])[0] if again else st["fresh"].pop()
            eid, card, program, cycle = ent
            st["redeemed"].append((ent, f"{device}-{n}"))
            allowance = f"A{coop}{program}{cycle.replace('-', '')}"
            payload = {"card_uid": card, "allowance_id": allowance, "value": 200_000,
                       "verification": "CHIP_PIN"}  # fmt: skip
            return self._row(coop, device, "AidRedeemed", eid, payload)
        if t == "StimulusFundUtilized":
            return self._row(
                coop,
                device,
                t,
                f"SF-{coop}",
                {"amount": 1_000_000, "purpose": "STOCK", "doc_no": f"BKK{n}", "used_on": day},
            )
        return self._row(
            coop,
            device,
            "StimulusRevolvingRepaymentMade",
            f"SF-{coop}",
            {"amount": 500_000, "paid_on": day, "receipt_no": f"KW{n}"},
        )

    def rows(self, n: int) -> list[dict[str, Any]]:
        """``n`` store rows in arrival order: reference data, then offline devices' uploads."""
        out: list[dict[str, Any]] = []
        for coop in self.coops:
            out += self.reference(coop)
        devices = [(coop, f"k{i}-{coop[-6:]}") for coop in self.coops for i in range(3)]
        while len(out) < n:
            coop, device = self.rng.choice(devices)
            # a device back from being offline uploads a chunk of its backlog
            for _ in range(min(self.rng.randint(20, 120), n - len(out))):
                if not self.state[coop]["fresh"]:
                    out += self.cycle(coop)  # the province opens the next aid cycle
                out.append(self.edge(coop, device))
        return out[:n]
