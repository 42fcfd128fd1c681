"""Generated membership and savings commands."""

from __future__ import annotations

from edge_agent.app import teller
from edge_agent.devtools.sim.device import DeviceBase
from edge_agent.devtools.sim.world import (
    FOUNDERS,
    MEN,
    STREETS,
    SURNAMES,
    WOMEN,
    coin,
    misspelt,
    phone_number,
    round_down,
)
from edge_agent.domain.membership import nik_key


class MembershipActions(DeviceBase):
    """Register, approve, edit and resign members; open accounts, pay in, take out, reverse."""

    # --- membership ---------------------------------------------------------------------
    def register(self) -> bool:
        i = self.s.registered + 1
        while not self.pool.registers_at(self.counter, i):
            i += 1
        p = self.pool.person(i)
        if self.view(nik_key(p.nik)) is not None:
            # A sibling counter registered this person and this device has heard of it:
            # a teller finds the member, not a new registration.
            self.s.registered = i
            return False
        twice = self.pool.walks_in_twice(i)
        name = misspelt(p.name) if twice and coin("spell", self.dev, i) < 0.25 else p.name
        return self.rec(
            teller.register_member,
            nik=p.nik,
            kk_no=p.kk_no,
            name=name,
            birth_date=p.birth_date,
            desa_code=p.desa_code,
            phone=p.phone,
            member_id=f"M-{self.dev}-{i}",
        )

    def approve(self) -> bool:
        if not self.s.pending:
            return False
        by = "Ketua Pengurus"
        return self.rec(
            teller.approve_member, self.s.pending[0], approved_on=self.today, approved_by=by
        )

    def edit_profile(self) -> bool:
        r = self.rng
        founders = [self.pool.founder_id(f) for f in range(FOUNDERS)]
        if not self.s.founder_edited:  # every device edits this phone first
            member, name = founders[0], "phone"
        else:
            member = r.choice(
                founders if r.random() < 0.4 or not self.s.members else self.s.members
            )
            name = r.choices(("phone", "address", "name", "desa_code"), (60, 25, 10, 5))[0]
        values = {
            "phone": lambda: phone_number(r),
            "address": lambda: f"Jl. {r.choice(STREETS)} No. {r.randrange(1, 120)}",
            "name": lambda: f"{r.choice(WOMEN + MEN)} {r.choice(SURNAMES)}",
            "desa_code": lambda: r.choice(self.pool.desas),
        }
        return self.rec(teller.change_member_field, member, name, values[name]())

    def resign(self) -> bool:
        leaving = [m for m in self.s.members if m not in self.s.borrowers]
        if len(self.s.members) < 20 or not leaving:
            return False
        member, why = self.rng.choice(leaving), "pindah domisili"
        return self.rec(teller.resign_member, member, resigned_on=self.today, reason=why)

    # --- savings -------------------------------------------------------------------------
    def open_account(self) -> bool:
        if not self.s.to_open:
            return False
        member, product = self.s.to_open[0]
        return self.rec(
            teller.open_savings,
            member_id=member,
            product=product,
            opened_on=self.today,
            account_id=self.new("S"),
        )

    def pay_pokok(self) -> bool:
        if not self.s.pokok_unpaid:
            return False
        account = self.s.pokok_unpaid[0]
        self.add_balance(account, self.pool.pokok)
        return self.rec(teller.deposit, account, self.pool.pokok, receipt_no=self.new("KW"))

    def pay_wajib(self) -> bool:
        month = self.today[:7]
        due = [a for a, period in self.s.wajib.items() if period <= month]
        if not due:
            return False
        account = self.rng.choice(due)
        self.add_balance(account, self.pool.wajib)
        return self.rec(
            teller.deposit,
            account,
            self.pool.wajib,
            receipt_no=self.new("KW"),
            period=self.s.wajib[account],
        )

    def deposit(self) -> bool:
        if not self.s.sukarela:
            return False
        account = self.rng.choice(self.s.sukarela)
        amount = round_down(self.rng.lognormvariate(11.5, 0.9), 5_000)  # median about Rp100.000
        self.add_balance(account, amount)
        return self.rec(teller.deposit, account, amount, receipt_no=self.new("KW"))

    def withdraw(self) -> bool:
        funded = [a for a in self.s.sukarela[-60:] if self.balance(a) >= 10_000]
        if not funded:
            return False
        account = self.rng.choice(funded)
        have = self.balance(account)
        amount = min(have, round_down(have * self.rng.uniform(0.1, 0.9), 5_000))
        self.add_balance(account, -amount)
        return self.rec(teller.withdraw, account, amount, receipt_no=self.new("KW"))

    def reverse_savings(self) -> bool:
        options = [
            x for x in self.s.savings_tx if x[1] == "WITHDRAWAL" or self.balance(x[0]) >= x[2]
        ]
        if not options:
            return False
        account, kind, amount, pending = self.rng.choice(options)
        self.add_balance(account, -amount if kind == "DEPOSIT" else amount)
        return self.rec(
            teller.reverse_savings,
            account,
            reversed_event_id=self.out.event_id(pending),
            kind=kind,
            amount=amount,
            reason="salah input nominal oleh petugas",
        )
