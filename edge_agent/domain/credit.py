"""Member credit: what a member bought on credit and still owes the cooperative here.

A sale paid (in part) by ``member_credit`` makes the member's receivable (piutang anggota)
grow by that amount; a void of the sale takes it back; ``MemberCreditRepaid`` (aggregate
id = the member id) pays it down.

Rules:
- A repayment names a member registered on this device (``unknown_member``); a member who
  has resigned may still pay back what she owes.
- A repayment is never more than the member owes as this device knows it
  (``credit_overpaid``, saying what is owed): the change is given back at the counter,
  not kept as a credit. A sibling device's sales and repayments count once they have
  reached this device; what two devices took offline beyond the debt is the central's
  CREDIT_OVERPAID item.

Views:
- ``credit:{member_id}`` = ``{sold, repaid, owed}``: credit sold (voids taken back),
  repaid, and their difference.
"""

from __future__ import annotations

from edge_agent.domain.base import Proposed, Rule, View, Views
from edge_agent.domain.common import get_or_add, loaded, rupiah
from edge_agent.domain.membership import known_member, member_key
from sync_core.errors import RuleViolation


def credit_key(member_id: str) -> str:
    return f"credit:{member_id}"


def _new() -> View:
    return {"sold": 0, "repaid": 0, "owed": 0}


def owed(views: Views, member_id: str) -> int:
    """What the member owes as this device knows it (0 when she never bought on credit)."""
    view = loaded(views, credit_key(member_id))
    return 0 if view is None else int(view["owed"])


def charge(views: Views, member_id: str, amount: int) -> None:
    """Add ``amount`` of credit sold to the member (a negative amount: a void takes it back)."""
    view = get_or_add(views, credit_key(member_id), _new())
    view["sold"] += amount
    view["owed"] = view["sold"] - view["repaid"]


# --- MemberCreditRepaid ----------------------------------------------------------------


def _repaid_keys(ev: Proposed) -> list[str]:
    return [member_key(ev.aggregate_id), credit_key(ev.aggregate_id)]


def _check_repaid(views: Views, ev: Proposed) -> None:
    known_member(views, ev.aggregate_id, resigned_ok=True)
    amount, due = int(ev.payload["amount"]), owed(views, ev.aggregate_id)
    if amount > due:
        raise RuleViolation(
            "credit_overpaid",
            f"member {ev.aggregate_id} owes {rupiah(due)} of member credit on this device, "
            f"not {rupiah(amount)}; take at most what is owed (sync first if another "
            "counter sold on credit)",
        )


def _apply_repaid(views: Views, ev: Proposed) -> None:
    view = get_or_add(views, credit_key(ev.aggregate_id), _new())
    view["repaid"] += int(ev.payload["amount"])
    view["owed"] = view["sold"] - view["repaid"]


RULES: dict[str, Rule] = {
    "MemberCreditRepaid": Rule(_repaid_keys, _check_repaid, _apply_repaid),
}
