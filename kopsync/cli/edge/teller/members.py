"""``kopsync edge member …``: register, approve, change a profile field, resign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge_agent.app import teller
from kopsync.cli.edge.teller.common import TellerGroup, common_options, date, record
from schemas.catalog import PROFILE_FIELDS


@click.group(cls=TellerGroup)
def member() -> None:
    """Members: register, approve, change a profile field, resign."""


@member.command("register")
@click.option("--nik", required=True, help="National id (NIK), 16 digits.")
@click.option("--kk", "kk_no", required=True, help="Family card number (KK), 16 digits.")
@click.option("--name", required=True, help="Full name.")
@date("--birth-date", "birth_date", help="Date of birth.", required=True)
@click.option("--desa", "desa_code", required=True, help="Village code, 10 digits, no dots.")
@click.option("--phone", default=None, help="Phone, e.g. +6281234567890.")
@click.option("--id", "member_id", default=None, help="Member id (default: M-<8 hex>).")
@common_options
def member_register(data_dir: Path, as_json: bool, **opts: Any) -> None:
    """Register a person as a member (MemberRegistered)."""
    record(data_dir, as_json, lambda a: teller.register_member(a, **opts), "member_id")


@member.command("approve")
@click.argument("member_id")
@date("--on", "approved_on")
@click.option("--by", "approved_by", default=None, help="Who approved (board member).")
@common_options
def member_approve(data_dir: Path, as_json: bool, member_id: str, **opts: Any) -> None:
    """Approve a registered member (MembershipApproved)."""
    record(data_dir, as_json, lambda a: teller.approve_member(a, member_id, **opts))


@member.command("change")
@click.argument("member_id")
@click.option("--field", required=True, type=click.Choice(PROFILE_FIELDS))
@click.option("--value", required=True, help="The new value.")
@common_options
def member_change(data_dir: Path, as_json: bool, member_id: str, field: str, value: str) -> None:
    """Change one profile field of a member (MemberProfileFieldChanged)."""
    record(data_dir, as_json, lambda a: teller.change_member_field(a, member_id, field, value))


@member.command("resign")
@click.argument("member_id")
@date("--on", "resigned_on")
@click.option("--reason", default=None)
@common_options
def member_resign(data_dir: Path, as_json: bool, member_id: str, **opts: Any) -> None:
    """Record that a member leaves the cooperative (MemberResigned)."""
    record(data_dir, as_json, lambda a: teller.resign_member(a, member_id, **opts))
