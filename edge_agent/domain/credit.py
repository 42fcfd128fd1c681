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
- A repayment recorded by mistake is undone by ``MemberCreditRepaymentReversed``: it names
  a repayment of this member that this cooperative recorded (on this device or a sibling
  whose events reached it) with its own amount (``unknown_repayment``), not reversed
  before (``already_reversed``); what she owes goes back up by exactly that amount.
  A repayment recorded before reversals existed has no ``tx`` view until ``kopsync edge
  repair`` rebuilds the views from the log.

Views:
- ``credit:{member_id}`` = ``{sold, repaid, owed}``: credit sold (voids taken back),
  repaid (reversals taken back), and their difference;
- ``tx:{event_id}`` = ``{aggregate, kind: CREDIT_REPAYMENT, amount, reversed_by}``.
"""

from __future__ import annotations

from edge_agent.domain.base import Proposed, Rule, View, Views
from edge_agent.domain.common import add_tx, get_or_add, loaded, rupiah, tx_key
from edge_agent.domain.membership import known_member, member_key
from sync_core.errors import RuleViolation

CREDIT_REPAYMENT = "CREDIT_REPAYMENT"


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


# --- MemberCreditRepaid, MemberCreditRepaymentReversed ---------------------------------


def _repaid_keys(ev: Proposed) -> list[str]:
    return [member_key(ev.aggregate_id), credit_key(ev.aggregate_id), tx_key(ev.event_id)]


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


def _repay(views: Views, member_id: str, amount: int) -> None:
    view = get_or_add(views, credit_key(member_id), _new())
    view["repaid"] += amount
    view["owed"] = view["sold"] - view["repaid"]


def _apply_repaid(views: Views, ev: Proposed) -> None:
    early, own = loaded(views, tx_key(ev.event_id)), credit_key(ev.aggregate_id)
    add_tx(views, ev, own, CREDIT_REPAYMENT)
    if early is not None and early["reversed_by"] and early["aggregate"] == own:
        # A sibling's reversal of it reached this device first: it never counts here.
        views[tx_key(ev.event_id)] = {**early, "amount": ev.payload["amount"]}
        return
    _repay(views, ev.aggregate_id, int(ev.payload["amount"]))


def _reversal_keys(ev: Proposed) -> list[str]:
    return [
        member_key(ev.aggregate_id),
        credit_key(ev.aggregate_id),
        tx_key(ev.payload["reversed_event_id"]),
    ]


def _check_reversed(views: Views, ev: Proposed) -> None:
    known_member(views, ev.aggregate_id, resigned_ok=True)
    target: str = ev.payload["reversed_event_id"]
    amount = int(ev.payload["amount"])
    tx = loaded(views, tx_key(target))
    if tx is None or tx["aggregate"] != credit_key(ev.aggregate_id):
        raise RuleViolation(
            "unknown_repayment",
            f"no member-credit repayment {target} of member {ev.aggregate_id} on this "
            "device; copy the event id from `kopsync edge log` (sync first if another "
            "counter took it)",
        )
    if tx["reversed_by"] is not None:
        raise RuleViolation(
            "already_reversed",
            f"repayment {target} was already reversed by event {tx['reversed_by']}",
        )
    if tx["amount"] != amount:
        raise RuleViolation(
            "unknown_repayment",
            f"repayment {target} was {rupiah(tx['amount'])}, not {rupiah(amount)}; "
            "reverse it with its own amount",
        )


def _apply_reversed(views: Views, ev: Proposed) -> None:
    # A sibling's reversal is taken whatever this device knows (it already happened), and
    # counted as the central counts it: a repayment is cancelled once, by its own amount,
    # on its own member; one that has not arrived yet is marked so it never counts.
    key = tx_key(ev.payload["reversed_event_id"])
    tx = loaded(views, key)
    if tx is None:
        views[key] = {"aggregate": credit_key(ev.aggregate_id), "kind": CREDIT_REPAYMENT,
                      "amount": None, "reversed_by": ev.event_id}  # fmt: skip
    elif tx["reversed_by"] is None and tx["aggregate"] == credit_key(ev.aggregate_id):
        tx["reversed_by"] = ev.event_id
        _repay(views, ev.aggregate_id, -int(tx["amount"]))


RULES: dict[str, Rule] = {
    "MemberCreditRepaid": Rule(_repaid_keys, _check_repaid, _apply_repaid),
    "MemberCreditRepaymentReversed": Rule(_reversal_keys, _check_reversed, _apply_reversed),
}
