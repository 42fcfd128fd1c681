"""Generated loan and stimulus fund commands."""

from __future__ import annotations

from edge_agent.app import teller
from edge_agent.devtools.sim.device import DeviceBase
from edge_agent.devtools.sim.world import (
    FUND_PURPOSES,
    LOAN_PURPOSES,
    add_month,
    day_of,
    round_down,
)


class LendingActions(DeviceBase):
    """Loans from application to repayment, and the revolving stimulus fund."""

    # --- loans ---------------------------------------------------------------------------
    def _loans(self, state: str) -> list[str]:
        return [lid for lid, loan in self.s.loans.items() if loan.state == state]

    def apply_loan(self) -> bool:
        free = [m for m in self.s.members if m not in self.s.borrowers]
        if not free:
            return False
        r, lid = self.rng, self.new("L")
        self.loan(lid)
        return self.rec(
            teller.apply_loan,
            member_id=r.choice(free),
            loan_id=lid,
            amount_requested=r.randrange(10, 101) * 100_000,
            purpose=r.choice(LOAN_PURPOSES),
            tenor_months=r.choice((6, 10, 12, 18, 24)),
        )

    def approve_loan(self) -> bool:
        applied = self._loans("APPLIED")
        if not applied:
            return False
        r, lid = self.rng, applied[0]
        requested = self.s.loans[lid].requested
        principal = requested if r.random() < 0.7 else round_down(requested * 0.8, 100_000)
        self.loan(lid)["principal"] = principal
        return self.rec(
            teller.approve_loan,
            lid,
            principal=principal,
            rate_bp=r.choice((1200, 1500, 1800)),
            method="flat" if r.random() < 0.7 else "declining",
            tenor_months=self.s.loans[lid].tenor,
            first_due=add_month(day_of(self.seq + 1)),
        )

    def disburse_loan(self) -> bool:
        approved = self._loans("APPROVED")
        if not approved:
            return False
        v = self.loan(approved[0])
        left = int(v["principal"]) - int(v["disbursed"])
        if left <= 0:
            self.s.loans[approved[0]].state = "DISBURSED"
            return False
        v["disbursed"] += left
        return self.rec(teller.disburse_loan, approved[0], left, disbursed_on=self.today)

    def repay_loan(self) -> bool:
        running = self._loans("DISBURSED")
        if not running:
            return False
        lid = self.rng.choice(running[-80:])
        loan, v = self.s.loans[lid], self.loan(lid)
        owed = loan.total_due - int(v["repaid"])
        if owed <= 0:
            loan.state = "PAID"
            return False
        amount = min(owed, loan.installment)
        v["repaid"] += amount
        return self.rec(
            teller.repay_loan, lid, amount, receipt_no=self.new("KW"), paid_on=self.today
        )

    def reverse_repayment(self) -> bool:
        if not self.s.repayments:
            return False
        lid, amount, pending = self.s.repayments[-1]
        self.loan(lid)["repaid"] -= amount
        if lid in self.s.loans and self.s.loans[lid].state == "PAID":
            self.s.loans[lid].state = "DISBURSED"
        return self.rec(
            teller.reverse_repayment,
            lid,
            reversed_event_id=self.out.event_id(pending),
            amount=amount,
            reason="setoran tercatat dua kali",
        )

    # --- stimulus fund -----------------------------------------------------------------------
    def utilize(self) -> bool:
        f = self.fund()
        amount = round_down(self.rng.uniform(1, 15) * 1_000_000, 50_000)
        if f["disbursed"] - f["utilized"] + f["repaid"] < amount:
            return False
        f["utilized"] += amount
        purpose = self.rng.choices(FUND_PURPOSES, (30, 40, 10, 15, 5))[0]
        return self.rec(
            teller.utilize_fund,
            self.pool.fund_id,
            amount,
            purpose=purpose,
            doc_no=self.new("BKK"),
            used_on=self.today,
        )

    def repay_fund(self) -> bool:
        f = self.fund()
        amount = round_down(self.rng.uniform(0.2, 2) * 1_000_000, 50_000)
        if f["repaid"] + amount > f["utilized"] * 0.8 or not self.s.members:
            return False
        f["repaid"] += amount
        return self.rec(
            teller.repay_fund,
            self.pool.fund_id,
            amount,
            receipt_no=self.new("KW"),
            paid_on=self.today,
            member_id=self.rng.choice(self.s.members),
        )
