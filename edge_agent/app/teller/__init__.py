"""The teller API: one function per edge event, building its payload and aggregate id.

Each function is a thin wrapper over ``recorder.record(type, payload, aggregate_id)``:
the schema check and the local rules run in the store, exactly as for
``kopsync edge record``. ``recorder`` is usually an :class:`~edge_agent.app.agent.EdgeAgent`
(the function then returns the sealed :class:`~sync_core.envelope.Envelope`); any object
with the same ``record`` method works, which is how the simulator batches commands.

Ids the caller leaves out are generated as ``<PREFIX>-<8 hex>`` (``M-1a2b3c4d`` for a
member). Dates left out are today's date. Money is integer rupiah; nothing here
converts or rounds it, so a float reaches the schema check and is refused there, naming
the field.
"""

from __future__ import annotations

from edge_agent.app.teller.aid import redeem_aid, void_redemption
from edge_agent.app.teller.base import MAIN, Item, Line, Payment, Recorder, new_id, today
from edge_agent.app.teller.fund import repay_fund, utilize_fund
from edge_agent.app.teller.loans import (
    a_month_after,
    apply_loan,
    approve_loan,
    disburse_loan,
    repay_loan,
    reverse_repayment,
)
from edge_agent.app.teller.logistics import dispatch_shipment, receive_shipment, record_discrepancy
from edge_agent.app.teller.members import (
    approve_member,
    change_member_field,
    register_member,
    resign_member,
)
from edge_agent.app.teller.savings import deposit, open_savings, reverse_savings, withdraw
from edge_agent.app.teller.shop import (
    adjust_stock,
    count_stock,
    receive_stock,
    record_sale,
    repay_member_credit,
    reverse_member_credit_repayment,
    sale_total,
    set_price,
    void_sale,
)

COMMANDS: dict[str, str] = {
    "MemberRegistered": "register_member",
    "MembershipApproved": "approve_member",
    "MemberProfileFieldChanged": "change_member_field",
    "MemberResigned": "resign_member",
    "SavingsAccountOpened": "open_savings",
    "SavingsDeposited": "deposit",
    "SavingsWithdrawn": "withdraw",
    "SavingsTransactionReversed": "reverse_savings",
    "LoanApplied": "apply_loan",
    "LoanApproved": "approve_loan",
    "LoanDisbursed": "disburse_loan",
    "LoanRepaymentReceived": "repay_loan",
    "LoanRepaymentReversed": "reverse_repayment",
    "PriceSet": "set_price",
    "SaleRecorded": "record_sale",
    "SaleVoided": "void_sale",
    "MemberCreditRepaid": "repay_member_credit",
    "MemberCreditRepaymentReversed": "reverse_member_credit_repayment",
    "StockReceived": "receive_stock",
    "StockAdjusted": "adjust_stock",
    "StockCounted": "count_stock",
    "AidRedeemed": "redeem_aid",
    "AidRedemptionVoided": "void_redemption",
    "StimulusFundUtilized": "utilize_fund",
    "StimulusRevolvingRepaymentMade": "repay_fund",
    "ShipmentDispatched": "dispatch_shipment",
    "ShipmentReceived": "receive_shipment",
    "ShipmentDiscrepancyRecorded": "record_discrepancy",
}
"""The teller function of every edge event type (a test checks it covers the catalog)."""

__all__ = [
    "COMMANDS",
    "MAIN",
    "Item",
    "Line",
    "Payment",
    "Recorder",
    "a_month_after",
    "adjust_stock",
    "apply_loan",
    "approve_loan",
    "approve_member",
    "change_member_field",
    "count_stock",
    "deposit",
    "disburse_loan",
    "dispatch_shipment",
    "new_id",
    "open_savings",
    "receive_shipment",
    "receive_stock",
    "record_discrepancy",
    "record_sale",
    "redeem_aid",
    "register_member",
    "repay_fund",
    "repay_loan",
    "repay_member_credit",
    "resign_member",
    "reverse_member_credit_repayment",
    "reverse_repayment",
    "reverse_savings",
    "sale_total",
    "set_price",
    "today",
    "utilize_fund",
    "void_redemption",
    "void_sale",
    "withdraw",
]
