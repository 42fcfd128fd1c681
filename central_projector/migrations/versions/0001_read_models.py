"""Read models: members, savings, loans, shop and stock, aid, stimulus, logistics, sync health,
conflicts, stock ledger and projector position.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 04:16:21.083545
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_allowance",
        sa.Column("allowance_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("owner_src", sa.LargeBinary(), nullable=True),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("program", sa.String(length=64), nullable=True),
        sa.Column("cycle", sa.String(length=64), nullable=True),
        sa.Column("max_count", sa.BigInteger(), nullable=True),
        sa.Column("max_value", sa.BigInteger(), nullable=True),
        sa.Column("alloc_okey", sa.LargeBinary(), nullable=True),
        sa.Column("debits", sa.LargeBinary(), nullable=True),
        sa.Column("used_count", sa.BigInteger(), nullable=True),
        sa.Column("used_value", sa.BigInteger(), nullable=True),
        sa.Column("over_count", sa.BigInteger(), nullable=True),
        sa.Column("over_value", sa.BigInteger(), nullable=True),
        sa.Column("available_count", sa.BigInteger(), nullable=True),
        sa.Column("available_value", sa.BigInteger(), nullable=True),
        sa.Column("devices_over", sa.LargeBinary(), nullable=True),
        sa.Column("walked", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("allowance_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_allowance", schema=None) as batch_op:
        batch_op.create_index("ix_rm_allowance_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_beneficiary",
        sa.Column("beneficiary_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("home_coop", sa.String(length=64), nullable=True),
        sa.Column("kk_no", sa.String(length=64), nullable=True),
        sa.Column("head_name", sa.Text(), nullable=True),
        sa.Column("okey", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("beneficiary_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_beneficiary", schema=None) as batch_op:
        batch_op.create_index("ix_rm_beneficiary_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_card",
        sa.Column("card_uid", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("owner_src", sa.LargeBinary(), nullable=True),
        sa.Column("beneficiary_id", sa.String(length=64), nullable=True),
        sa.Column("issue_okey", sa.LargeBinary(), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=True),
        sa.Column("block_reason", sa.Text(), nullable=True),
        sa.Column("block_okey", sa.LargeBinary(), nullable=True),
        sa.Column("credits", sa.LargeBinary(), nullable=True),
        sa.Column("debits", sa.LargeBinary(), nullable=True),
        sa.Column("credited", sa.BigInteger(), nullable=True),
        sa.Column("spent", sa.BigInteger(), nullable=True),
        sa.Column("overspend", sa.BigInteger(), nullable=True),
        sa.Column("available", sa.BigInteger(), nullable=True),
        sa.Column("devices_over", sa.LargeBinary(), nullable=True),
        sa.Column("walked", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("card_uid"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_card", schema=None) as batch_op:
        batch_op.create_index("ix_rm_card_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_claim",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("entitlement_id", sa.String(length=64), nullable=True),
        sa.Column("home_coop", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("okey", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("claim_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_claim", schema=None) as batch_op:
        batch_op.create_index("ix_rm_claim_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_conflict",
        sa.Column("conflict_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("detail", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("conflict_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_conflict", schema=None) as batch_op:
        batch_op.create_index("ix_rm_conflict_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_coop",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=True),
        sa.Column("as_of", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("coop_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_device",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=True),
        sa.Column("max_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_wall", sa.BigInteger(), nullable=True),
        sa.Column("last_seen", sa.BigInteger(), nullable=True),
        sa.Column("lag_ms", sa.BigInteger(), nullable=True),
        sa.Column("skew_count", sa.BigInteger(), nullable=True),
        sa.Column("skew_seqs", sa.LargeBinary(), nullable=True),
        sa.Column("gap_count", sa.BigInteger(), nullable=True),
        sa.Column("gap_seqs", sa.LargeBinary(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("device_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_device", schema=None) as batch_op:
        batch_op.create_index("ix_rm_device_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_entitlement",
        sa.Column("entitlement_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("owner_src", sa.LargeBinary(), nullable=True),
        sa.Column("beneficiary_id", sa.String(length=64), nullable=True),
        sa.Column("card_uid", sa.String(length=64), nullable=True),
        sa.Column("program", sa.String(length=64), nullable=True),
        sa.Column("cycle", sa.String(length=64), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("items", sa.LargeBinary(), nullable=True),
        sa.Column("grant_okey", sa.LargeBinary(), nullable=True),
        sa.Column("redemptions", sa.LargeBinary(), nullable=True),
        sa.Column("voided", sa.LargeBinary(), nullable=True),
        sa.Column("winner", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("worth", sa.BigInteger(), nullable=True),
        sa.Column("redeemed_value", sa.BigInteger(), nullable=True),
        sa.Column("remaining", sa.BigInteger(), nullable=True),
        sa.Column("overspend", sa.BigInteger(), nullable=True),
        sa.Column("duplicates", sa.LargeBinary(), nullable=True),
        sa.Column("value_at_risk", sa.BigInteger(), nullable=True),
        sa.Column("claims", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("entitlement_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_entitlement", schema=None) as batch_op:
        batch_op.create_index("ix_rm_entitlement_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_fund",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=True),
        sa.Column("disbursed", sa.BigInteger(), nullable=True),
        sa.Column("utilised", sa.BigInteger(), nullable=True),
        sa.Column("repaid", sa.BigInteger(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=True),
        sa.Column("by_purpose", sa.LargeBinary(), nullable=True),
        sa.Column("tranches", sa.BigInteger(), nullable=True),
        sa.Column("program_year", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("alloc_okey", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "fund_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_loan",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("requested", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("applied_okey", sa.LargeBinary(), nullable=True),
        sa.Column("terms", sa.LargeBinary(), nullable=True),
        sa.Column("terms_okey", sa.LargeBinary(), nullable=True),
        sa.Column("log", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("principal", sa.BigInteger(), nullable=True),
        sa.Column("disbursed", sa.BigInteger(), nullable=True),
        sa.Column("interest", sa.BigInteger(), nullable=True),
        sa.Column("repaid", sa.BigInteger(), nullable=True),
        sa.Column("outstanding", sa.BigInteger(), nullable=True),
        sa.Column("written_off", sa.BigInteger(), nullable=True),
        sa.Column("written_off_recorded", sa.BigInteger(), nullable=True),
        sa.Column("written_off_on", sa.String(length=64), nullable=True),
        sa.Column("recovered", sa.BigInteger(), nullable=True),
        sa.Column("installment", sa.BigInteger(), nullable=True),
        sa.Column("first_due", sa.String(length=64), nullable=True),
        sa.Column("tenor_months", sa.BigInteger(), nullable=True),
        sa.Column("plain", sa.Boolean(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "loan_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_member",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("resigned", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("reg_okey", sa.LargeBinary(), nullable=True),
        sa.Column("profile", sa.LargeBinary(), nullable=True),
        sa.Column("edits", sa.LargeBinary(), nullable=True),
        sa.Column("merged_into", sa.LargeBinary(), nullable=True),
        sa.Column("merged_aliases", sa.LargeBinary(), nullable=True),
        sa.Column("placed", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "member_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_nik_group",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("nik", sa.String(length=64), nullable=False),
        sa.Column("members", sa.LargeBinary(), nullable=True),
        sa.Column("canonical", sa.String(length=64), nullable=True),
        sa.Column("aliases", sa.LargeBinary(), nullable=True),
        sa.Column("collisions", sa.LargeBinary(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "nik"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_price",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=True),
        sa.Column("effective_from", sa.String(length=64), nullable=True),
        sa.Column("okey", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "sku"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_projector_held",
        sa.Column("event_pk", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("event_pk"),
    )
    op.create_table(
        "rm_projector_position",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_quota",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("program", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=True),
        sa.Column("allocations", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "program", "sku", "period"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_resolution",
        sa.Column("conflict_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("decision", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("okey", sa.LargeBinary(), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("conflict_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_resolution", schema=None) as batch_op:
        batch_op.create_index("ix_rm_resolution_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_sale",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("recorded", sa.Boolean(), nullable=True),
        sa.Column("sale_okey", sa.LargeBinary(), nullable=True),
        sa.Column("void_okey", sa.LargeBinary(), nullable=True),
        sa.Column("day", sa.String(length=64), nullable=True),
        sa.Column("location", sa.String(length=64), nullable=True),
        sa.Column("lines", sa.LargeBinary(), nullable=True),
        sa.Column("card_uid", sa.String(length=64), nullable=True),
        sa.Column("khbs", sa.BigInteger(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "sale_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_sales_day",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("lines", sa.BigInteger(), nullable=True),
        sa.Column("voided_qty", sa.BigInteger(), nullable=True),
        sa.Column("voided_amount", sa.BigInteger(), nullable=True),
        sa.Column("voided_lines", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "day", "sku"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_savings",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("opened_on", sa.String(length=64), nullable=True),
        sa.Column("open_okey", sa.LargeBinary(), nullable=True),
        sa.Column("deposits", sa.BigInteger(), nullable=True),
        sa.Column("withdrawals", sa.BigInteger(), nullable=True),
        sa.Column("reversed_deposits", sa.BigInteger(), nullable=True),
        sa.Column("reversed_withdrawals", sa.BigInteger(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=True),
        sa.Column("movements", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "account_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_shipment",
        sa.Column("shipment_id", sa.String(length=64), nullable=False),
        sa.Column("coop_id", sa.String(length=64), nullable=True),
        sa.Column("owner_src", sa.LargeBinary(), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.Column("destination", sa.String(length=64), nullable=True),
        sa.Column("dispatched_on", sa.String(length=64), nullable=True),
        sa.Column("dispatch_okey", sa.LargeBinary(), nullable=True),
        sa.Column("dispatched", sa.LargeBinary(), nullable=True),
        sa.Column("received", sa.LargeBinary(), nullable=True),
        sa.Column("received_on", sa.String(length=64), nullable=True),
        sa.Column("receipts", sa.BigInteger(), nullable=True),
        sa.Column("receivers", sa.LargeBinary(), nullable=True),
        sa.Column("discrepancies", sa.LargeBinary(), nullable=True),
        sa.Column("short", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("shipment_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rm_shipment", schema=None) as batch_op:
        batch_op.create_index("ix_rm_shipment_coop", ["coop_id"], unique=False)

    op.create_table(
        "rm_stock",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("count_okey", sa.LargeBinary(), nullable=True),
        sa.Column("count_qty", sa.BigInteger(), nullable=True),
        sa.Column("before", sa.BigInteger(), nullable=True),
        sa.Column("on_hand", sa.BigInteger(), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=True),
        sa.Column("sold", sa.BigInteger(), nullable=True),
        sa.Column("returned", sa.BigInteger(), nullable=True),
        sa.Column("adjusted", sa.BigInteger(), nullable=True),
        sa.Column("shipped_out", sa.BigInteger(), nullable=True),
        sa.Column("shipped_in", sa.BigInteger(), nullable=True),
        sa.Column("counts", sa.BigInteger(), nullable=True),
        sa.Column("conflicts", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("coop_id", "location", "sku"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rm_stock_moves",
        sa.Column("coop_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("okey", sa.LargeBinary(length=128), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("coop_id", "location", "sku", "okey"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("rm_stock_moves")
    op.drop_table("rm_stock")
    with op.batch_alter_table("rm_shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_shipment_coop")

    op.drop_table("rm_shipment")
    op.drop_table("rm_savings")
    op.drop_table("rm_sales_day")
    op.drop_table("rm_sale")
    with op.batch_alter_table("rm_resolution", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_resolution_coop")

    op.drop_table("rm_resolution")
    op.drop_table("rm_quota")
    op.drop_table("rm_projector_position")
    op.drop_table("rm_projector_held")
    op.drop_table("rm_price")
    op.drop_table("rm_nik_group")
    op.drop_table("rm_member")
    op.drop_table("rm_loan")
    op.drop_table("rm_fund")
    with op.batch_alter_table("rm_entitlement", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_entitlement_coop")

    op.drop_table("rm_entitlement")
    with op.batch_alter_table("rm_device", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_device_coop")

    op.drop_table("rm_device")
    op.drop_table("rm_coop")
    with op.batch_alter_table("rm_conflict", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_conflict_coop")

    op.drop_table("rm_conflict")
    with op.batch_alter_table("rm_claim", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_claim_coop")

    op.drop_table("rm_claim")
    with op.batch_alter_table("rm_card", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_card_coop")

    op.drop_table("rm_card")
    with op.batch_alter_table("rm_beneficiary", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_beneficiary_coop")

    op.drop_table("rm_beneficiary")
    with op.batch_alter_table("rm_allowance", schema=None) as batch_op:
        batch_op.drop_index("ix_rm_allowance_coop")

    op.drop_table("rm_allowance")
