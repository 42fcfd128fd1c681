"""What the generator knows of its device: the log folded into :class:`State`, and a
shadow of the views the rules read, kept ahead of the queued commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec

from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim.batch import Batch, Pending
from edge_agent.devtools.sim.pool import Pool, counter_of
from edge_agent.devtools.sim.world import MAIN, day_of, next_period, round_down, seeded
from edge_agent.domain.common import stock_key
from edge_agent.domain.loans import loan_key
from edge_agent.domain.savings import account_key
from edge_agent.domain.shop import price_key
from edge_agent.domain.stimulus import fund_key

P = ParamSpec("P")


@dataclass
class Loan:
    member: str
    state: str  # APPLIED, APPROVED, DISBURSED or PAID
    requested: int
    tenor: int
    installment: int = 0
    total_due: int = 0


Lines = list[tuple[str, int]]


@dataclass
class State:
    """What the generator knows beyond the views; rebuilt from the log on a later run."""

    registered: int = -1  # the highest pool index registered here
    pending: list[str] = field(default_factory=list)  # registered, not approved yet
    members: list[str] = field(default_factory=list)  # approved, not resigned
    to_open: list[tuple[str, str]] = field(default_factory=list)  # (member, product)
    pokok_unpaid: list[str] = field(default_factory=list)
    wajib: dict[str, str] = field(default_factory=dict)  # account -> next period due
    sukarela: list[str] = field(default_factory=list)
    savings_tx: list[tuple[str, str, int, Pending]] = field(default_factory=list)
    loans: dict[str, Loan] = field(default_factory=dict)
    borrowers: set[str] = field(default_factory=set)
    repayments: list[tuple[str, int, Pending]] = field(default_factory=list)
    sales: list[tuple[str, str, Lines]] = field(default_factory=list)  # (sale, location, lines)
    on_credit: dict[str, tuple[str, int]] = field(default_factory=dict)  # sale -> member, credit
    redemptions: list[tuple[str, Pending]] = field(default_factory=list)
    next_entitlement: int = 0
    transfers: dict[str, Lines] = field(default_factory=dict)  # gudang -> main, in transit
    discrepancies: list[tuple[str, str, int, int]] = field(default_factory=list)
    founder_edited: bool = False
    overridden: bool = False


class DeviceBase:
    """One device as the generator sees it; the actions live in one mixin per area."""

    def __init__(self, agent: EdgeAgent, pool: Pool, out: Batch) -> None:
        self.agent = agent
        self.pool = pool
        self.out = out
        self.dev = agent.device_id
        self.counter = counter_of(self.dev)
        self.seq = agent.head().seq  # the seq of the last event recorded or queued
        self.rng = seeded("device", pool.coop_id, self.dev, pool.seed, self.seq)
        self.s = State()
        self.shadow: dict[str, dict[str, Any] | None] = {}
        for entry in agent.log():
            env = entry.envelope
            pending = Pending(Draft(env.type, env.aggregate_id, entry.payload), env)
            self.observe(env.type, env.aggregate_id, entry.payload, pending)

    def rec(
        self,
        command: Callable[Concatenate[Batch, P], Pending],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> bool:
        """Queue one teller command and note what it changes; every action records one."""
        pending = command(self.out, *args, **kwargs)
        d = pending.draft
        self.observe(d.type, d.aggregate_id, d.payload, pending)
        return True

    def new(self, prefix: str) -> str:
        """An id minted here: prefix, device id and the seq the event will get."""
        return f"{prefix}-{self.dev}-{self.seq + 1}"

    @property
    def today(self) -> str:
        return day_of(self.seq + 1).isoformat()

    # --- the shadow of the views the rules read -------------------------------------------
    def view(self, key: str) -> dict[str, Any] | None:
        """The view at ``key`` as it will be once the queued commands are recorded.

        Read from the store on first use; from then on every queued command that changes
        it updates the shadow first, so the shadow never lags behind the queue.
        """
        if key not in self.shadow:
            self.shadow[key] = self.agent.view(key)
        return self.shadow[key]

    def stock(self, location: str, sku: str) -> int:
        v = self.view(stock_key(sku, location))
        return 0 if v is None else int(v["on_hand"])

    def move(self, location: str, sku: str, delta: int) -> None:
        self.shadow[stock_key(sku, location)] = {"on_hand": self.stock(location, sku) + delta}

    def balance(self, account: str) -> int:
        v = self.view(account_key(account))
        return 0 if v is None else int(v["balance"])

    def add_balance(self, account: str, delta: int) -> None:
        self.shadow[account_key(account)] = {"balance": self.balance(account) + delta}

    def price(self, sku: str) -> int:
        v = self.view(price_key(sku))
        return self.pool.prices[sku] if v is None else int(v["unit_price"])

    def loan(self, lid: str) -> dict[str, Any]:
        fresh = {"principal": 0, "disbursed": 0, "repaid": 0}
        v = self.view(loan_key(lid))
        self.shadow[loan_key(lid)] = shadow = {**fresh, **v} if v else fresh
        return shadow

    def fund(self) -> dict[str, Any]:
        v = self.view(fund_key(self.pool.fund_id))
        zero = {"allocated": 0, "disbursed": 0, "utilized": 0, "repaid": 0}
        self.shadow[fund_key(self.pool.fund_id)] = shadow = {**zero, **v} if v else zero
        return shadow

    # --- what the log says: folded from earlier runs' events and from each new command -----
    def observe(self, t: str, agg: str, p: dict[str, Any], pending: Pending) -> None:
        s = self.s
        self.seq = pending.envelope.seq if pending.envelope else self.seq + 1
        if t == "MemberRegistered":
            prefix, _, index = agg.rpartition("-")
            if prefix == f"M-{self.dev}" and index.isdigit():
                s.registered = max(s.registered, int(index))
            s.pending.append(agg)
        elif t == "MembershipApproved" and agg in s.pending:
            s.pending.remove(agg)
            s.members.append(agg)
            s.to_open += [(agg, product) for product in ("POKOK", "WAJIB", "SUKARELA")]
        elif t == "MemberResigned" and agg in s.members:
            s.members.remove(agg)
            s.to_open = [x for x in s.to_open if x[0] != agg]  # a former member opens none
        elif t == "MemberProfileFieldChanged":
            s.founder_edited |= agg == self.pool.founder_id(0)
        elif t == "SavingsAccountOpened":
            s.to_open = [x for x in s.to_open if x != (p["member_id"], p["product"])]
            if p["product"] == "POKOK":
                s.pokok_unpaid.append(agg)
            elif p["product"] == "WAJIB":
                s.wajib[agg] = p["opened_on"][:7]
            else:
                s.sukarela.append(agg)
        elif t in ("SavingsDeposited", "SavingsWithdrawn"):
            if agg in s.pokok_unpaid:
                s.pokok_unpaid.remove(agg)
            if "period" in p:
                s.wajib[agg] = next_period(p["period"])
            kind = "DEPOSIT" if t == "SavingsDeposited" else "WITHDRAWAL"
            s.savings_tx.append((agg, kind, p["amount"], pending))
        elif t == "SavingsTransactionReversed":
            s.savings_tx = [x for x in s.savings_tx if _eid(x[3]) != p["reversed_event_id"]]
        elif t == "LoanApplied" and agg.startswith(f"L-{self.dev}-"):
            s.loans[agg] = Loan(p["member_id"], "APPLIED", p["amount_requested"], p["tenor_months"])
            s.borrowers.add(p["member_id"])
        elif t == "LoanApproved" and agg in s.loans:
            loan = s.loans[agg]
            interest = p["principal"] * p["rate_bp"] * p["tenor_months"] // 120_000
            loan.state, loan.tenor = "APPROVED", p["tenor_months"]
            loan.total_due = p["principal"] + interest
            loan.installment = round_down(loan.total_due / p["tenor_months"], 100)
        elif t == "LoanDisbursed" and agg in s.loans:
            s.loans[agg].state = "DISBURSED"
        elif t == "LoanRepaymentReceived" and agg in s.loans:
            s.repayments.append((agg, p["amount"], pending))
        elif t == "LoanRepaymentReversed":
            s.repayments = [x for x in s.repayments if _eid(x[2]) != p["reversed_event_id"]]
        elif t == "SaleRecorded":
            lines = [(x["sku"], x["qty"]) for x in p["lines"]]
            s.sales.append((agg, p.get("location") or MAIN, lines))
            s.overridden |= "stock_override_reason" in p
            credit = sum(x["amount"] for x in p["payments"] if x["method"] == "member_credit")
            if credit and "member_id" in p:
                s.on_credit[agg] = (p["member_id"], credit)
        elif t == "SaleVoided":
            s.sales = [x for x in s.sales if x[0] != agg]
            s.on_credit.pop(agg, None)
        elif t == "AidRedeemed" and agg in self.pool.entitlement_index:
            s.redemptions.append((agg, pending))
            position = self.pool.entitlement_index.get(agg, -1)
            s.next_entitlement = max(s.next_entitlement, position + 1)
        elif t == "AidRedemptionVoided":
            s.redemptions = [x for x in s.redemptions if x[0] != agg]
        elif t == "ShipmentDispatched" and p["destination"] == self.pool.coop_id:
            s.transfers[agg] = [(x["sku"], x["qty"]) for x in p["lines"]]
        elif t == "ShipmentReceived":
            s.transfers.pop(agg, None)
        del s.savings_tx[:-40], s.repayments[:-40], s.sales[:-40], s.redemptions[:-40]


def _eid(pending: Pending) -> str | None:
    return None if pending.envelope is None else pending.envelope.event_id
