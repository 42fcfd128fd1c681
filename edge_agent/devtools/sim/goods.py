"""Generated shop, stock and shipment commands."""

from __future__ import annotations

from edge_agent.app import teller
from edge_agent.devtools.sim.device import DeviceBase
from edge_agent.devtools.sim.world import FAMILIES, GOODS, GUDANG, MAIN, SKUS, round_down
from edge_agent.domain.common import card_key, card_left, stock_key
from edge_agent.domain.credit import credit_key
from edge_agent.domain.shop import price_key


class GoodsActions(DeviceBase):
    """Sell and void, take member credit back, set prices, receive, move, ship, adjust and
    count goods."""

    def sell(self) -> bool:
        r = self.rng
        lines: list[teller.Line] = []
        override = None
        for sku in r.sample(SKUS, r.choice((1, 1, 2, 2, 3, 4))):
            qty = 1 if sku in ("LPG-3KG", "PUPUK-UREA-50KG") else r.randint(1, 3)
            have = self.stock(MAIN, sku)
            if have < qty:
                # The first shortage of a run, and a few later ones, are sold anyway: the
                # goods are on the shelf but their receipt is not recorded yet.
                if not self.s.overridden or r.random() < 0.04:
                    override = "barang sudah di rak, penerimaan belum dicatat"
                elif have <= 0:
                    continue
                else:
                    qty = have
            lines.append((sku, qty, self.price(sku)))
        if not lines:
            return False
        total = teller.sale_total(lines)
        payments: list[teller.Payment] = [("cash", total)]
        member = card = None
        roll, fam = r.random(), r.randrange(FAMILIES)
        wallet = self.view(card_key(self.pool.card_uid(fam))) or {}
        left = 0 if wallet.get("blocked") else card_left(wallet)
        if roll < 0.15 and left > 0:
            card = self.pool.card_uid(fam)
            khbs = min(total, left, round_down(total * r.uniform(0.5, 1), 500))
            payments = [("khbs", khbs)] + ([("cash", total - khbs)] if total > khbs else [])
            self.shadow[card_key(card)] = {**wallet, "spent": wallet.get("spent", 0) + khbs}
        elif 0.15 <= roll < 0.25 and self.s.members:
            member = r.choice(self.s.members)
            payments = [("member_credit", total)]
            self.owe(member, sold=total)
        for sku, qty, _ in lines:
            self.move(MAIN, sku, -qty)
        return self.rec(
            teller.record_sale,
            lines,
            payments,
            member_id=member,
            card_uid=card,
            override_stock=override,
            sale_id=self.new("SL"),
        )

    def void_sale(self) -> bool:
        if not self.s.sales:
            return False
        sale, location, lines = self.s.sales[-1]
        for sku, qty in lines:
            self.move(location, sku, qty)
        if sale in self.s.on_credit:
            member, credit = self.s.on_credit[sale]
            self.owe(member, sold=-credit)
        return self.rec(teller.void_sale, sale, reason="pembeli batal membeli")

    def repay_credit(self) -> bool:
        """A member who bought on credit pays back all or part of what she owes."""
        debtors = sorted({member for member, _ in self.s.on_credit.values()})
        if not debtors:
            return False
        member = self.rng.choice(debtors)
        owed = int((self.view(credit_key(member)) or {}).get("owed", 0))
        if owed <= 0:
            return False
        part = round_down(owed * self.rng.uniform(0.3, 0.9), 500)  # at least Rp500
        amount = owed if self.rng.random() < 0.5 or part >= owed else part
        self.owe(member, repaid=amount)
        return self.rec(
            teller.repay_member_credit,
            member,
            amount,
            receipt_no=self.new("KW"),
            paid_on=self.today,
        )

    def owe(self, member: str, *, sold: int = 0, repaid: int = 0) -> None:
        """Keep the shadow of what ``member`` owes ahead of the queue."""
        view = dict(self.view(credit_key(member)) or {"sold": 0, "repaid": 0, "owed": 0})
        view["sold"] += sold
        view["repaid"] += repaid
        view["owed"] = view["sold"] - view["repaid"]
        self.shadow[credit_key(member)] = view

    def set_price(self) -> bool:
        sku = self.rng.choice(SKUS[:-2])  # LPG and fertiliser have a set retail ceiling (HET)
        price = round_down(self.price(sku) * self.rng.uniform(0.97, 1.06), 100)
        self.shadow[price_key(sku)] = {"unit_price": price}
        return self.rec(teller.set_price, sku, price, effective_from=self.today)

    def receive_stock(self) -> bool:
        sku, _, (lo, hi), supplier = self.rng.choice(GOODS)
        where, qty = GUDANG if self.rng.random() < 0.5 else MAIN, self.rng.randint(lo, hi)
        self.move(where, sku, qty)
        cost = round_down(self.price(sku) * 0.88, 100)
        return self.rec(
            teller.receive_stock,
            sku,
            qty,
            supplier=supplier,
            doc_no=self.new("SJ"),
            location=where,
            unit_cost=cost,
        )

    def _from_gudang(self, most: int) -> list[teller.Item]:
        stocked = [sku for sku in SKUS if self.stock(GUDANG, sku) > 0]
        picked = self.rng.sample(stocked, min(len(stocked), self.rng.randint(1, 3)))
        items = [(sku, min(self.stock(GUDANG, sku), self.rng.randint(5, most))) for sku in picked]
        for sku, qty in items:
            self.move(GUDANG, sku, -qty)
        return items

    def transfer(self) -> bool:
        items = self._from_gudang(60)
        if not items:
            return False
        return self.rec(
            teller.dispatch_shipment,
            origin=GUDANG,
            destination=self.pool.coop_id,
            items=items,
            dispatched_on=self.today,
            shipment_id=self.new("TR"),
        )

    def receive_transfer(self) -> bool:
        if not self.s.transfers:
            return False
        sid, items = next(iter(self.s.transfers.items()))
        got = list(items)
        if self.rng.random() < 0.2 and got[0][1] > 1:
            sku, qty = got[0]
            got[0] = (sku, qty - 1)
            self.s.discrepancies.append((sid, sku, qty, qty - 1))
        for sku, qty in got:
            self.move(MAIN, sku, qty)
        return self.rec(
            teller.receive_shipment, sid, items=got, location=MAIN, received_on=self.today
        )

    def ship_out(self) -> bool:
        items = self._from_gudang(20)
        if not items:
            return False
        to = self.rng.choice(self.pool.neighbours)
        return self.rec(
            teller.dispatch_shipment,
            origin=GUDANG,
            destination=to,
            items=items,
            dispatched_on=self.today,
            shipment_id=self.new("SH"),
        )

    def receive_delivery(self) -> bool:
        sku = self.rng.choice(("LPG-3KG", "PUPUK-UREA-50KG", "BERAS-SPHP-5KG"))
        sent = self.rng.randint(40, 120)
        got = sent - (self.rng.randint(1, 3) if self.rng.random() < 0.25 else 0)
        sid = self.new("DO")
        if got != sent:
            self.s.discrepancies.append((sid, sku, sent, got))
        self.move(GUDANG, sku, got)
        return self.rec(
            teller.receive_shipment,
            sid,
            items=[(sku, got)],
            location=GUDANG,
            received_on=self.today,
        )

    def discrepancy(self) -> bool:
        if not self.s.discrepancies:
            return False
        sid, sku, sent, got = self.s.discrepancies.pop(0)
        return self.rec(
            teller.record_discrepancy,
            sid,
            sku=sku,
            expected_qty=sent,
            received_qty=got,
            reason="kemasan rusak / kurang saat bongkar muat",
        )

    def adjust(self) -> bool:
        r = self.rng
        where, sku = MAIN if r.random() < 0.6 else GUDANG, r.choice(SKUS)
        delta = -r.randint(1, 3) if r.random() < 0.85 else r.randint(1, 2)
        self.move(where, sku, delta)
        why = "rusak/bocor" if delta < 0 else "ditemukan saat merapikan gudang"
        return self.rec(teller.adjust_stock, sku, delta, reason=why, location=where)

    def count(self) -> bool:
        sku = self.rng.choice(SKUS)
        have = self.stock(MAIN, sku)
        counted = max(0, have + self.rng.randint(-2, 1)) if have > 0 else self.rng.randint(0, 5)
        self.shadow[stock_key(sku, MAIN)] = {"on_hand": counted}
        return self.rec(teller.count_stock, sku, counted, location=MAIN)
