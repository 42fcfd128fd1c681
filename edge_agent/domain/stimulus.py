"""Stimulus fund: the revolving fund the province gives a cooperative, and its use.

Rules: none refuse. Allocations and tranches come from the central; a utilisation or a
revolving repayment recorded here is money that has already moved, a fact the edge must
not block (facts are never rejected). Even a utilisation of a fund this device
has not heard of yet is recorded: the allocation may simply not have reached it over the
downlink, and the central reconciles and flags any overspend. The edge only keeps totals
so the teller can see what is left.

Views:
- ``fund:{fund_id}`` = ``{allocated, disbursed, utilized, repaid}`` (rupiah totals;
  available cash = disbursed − utilized + repaid).
"""

from __future__ import annotations

from edge_agent.domain.base import Proposed, Rule, Views, no_check
from edge_agent.domain.common import get_or_add


def fund_key(fund_id: str) -> str:
    return f"fund:{fund_id}"


def _fund_keys(ev: Proposed) -> list[str]:
    return [fund_key(ev.aggregate_id)]


def _adds_to(total: str) -> Rule:
    def apply(views: Views, ev: Proposed) -> None:
        default = {"allocated": 0, "disbursed": 0, "utilized": 0, "repaid": 0}
        fund = get_or_add(views, fund_key(ev.aggregate_id), dict(default))
        fund[total] += ev.payload["amount"]

    return Rule(_fund_keys, no_check, apply)


RULES: dict[str, Rule] = {
    "StimulusFundAllocated": _adds_to("allocated"),
    "StimulusTrancheDisbursed": _adds_to("disbursed"),
    "StimulusFundUtilized": _adds_to("utilized"),
    "StimulusRevolvingRepaymentMade": _adds_to("repaid"),
}
