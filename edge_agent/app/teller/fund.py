"""The stimulus fund: its use and revolving repayments."""

from __future__ import annotations

from edge_agent.app.teller.base import R_co, Recorder, present, today
from sync_core.ids import check_id


def utilize_fund(
    recorder: Recorder[R_co],
    fund_id: str,
    amount: int,
    *,
    purpose: str,
    doc_no: str,
    used_on: str | None = None,
) -> R_co:
    payload = {
        "amount": amount,
        "purpose": purpose,
        "doc_no": doc_no,
        "used_on": used_on or today(recorder),
    }
    return recorder.record("StimulusFundUtilized", payload, check_id(fund_id, "fund id"))


def repay_fund(
    recorder: Recorder[R_co],
    fund_id: str,
    amount: int,
    *,
    receipt_no: str,
    paid_on: str | None = None,
    member_id: str | None = None,
    loan_id: str | None = None,
) -> R_co:
    payload = present(
        amount=amount,
        paid_on=paid_on or today(recorder),
        receipt_no=receipt_no,
        member_id=member_id,
        loan_id=loan_id,
    )
    return recorder.record("StimulusRevolvingRepaymentMade", payload, check_id(fund_id, "fund id"))
