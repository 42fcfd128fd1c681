"""``kopsync edge aid …``: redeem a KHBS entitlement, void a redemption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge_agent.app import teller
from edge_agent.app.agent import EdgeAgent
from kopsync.cli.edge.teller.common import TellerGroup, common_options, money, record, view_or_empty
from schemas.catalog import VERIFICATIONS
from sync_core.envelope import Envelope
from sync_core.errors import UsageError


@click.group(cls=TellerGroup)
def aid() -> None:
    """KHBS aid: redeem an entitlement, void a redemption."""


@aid.command("redeem")
@click.argument("entitlement_id")
@click.option("--card", "card_uid", required=True, help="The KHBS card presented.")
@click.option(
    "--allowance",
    "allowance_id",
    default=None,
    help="Default: an allowance known here for the entitlement's program and cycle.",
)
@money("--value", required=False, help="Rupiah. Default: the entitlement's value (0 for goods).")
@click.option(
    "--verification", type=click.Choice(VERIFICATIONS), default="CHIP_PIN", show_default=True
)
@common_options
def aid_redeem(
    data_dir: Path,
    as_json: bool,
    entitlement_id: str,
    allowance_id: str | None,
    value: int | None,
    **opts: Any,
) -> None:
    """Redeem an entitlement with the family's card (AidRedeemed)."""

    def act(agent: EdgeAgent) -> Envelope:
        ent = view_or_empty(agent, f"entitlement:{entitlement_id}")
        worth = value if value is not None else int(ent.get("value") or 0)
        allowance = allowance_id or _allowance_for(agent, ent, entitlement_id)
        return teller.redeem_aid(agent, entitlement_id, allowance_id=allowance, value=worth, **opts)

    record(data_dir, as_json, act)


def _allowance_for(agent: EdgeAgent, ent: dict[str, Any], entitlement_id: str) -> str:
    if not ent:
        raise UsageError(
            f"entitlement {entitlement_id} is not known on this device; sync to receive it"
        )
    for key, a in agent.store.views("allowance:"):
        ours = a["scope"] == "COOP" or a["device_id"] == agent.device_id
        if ours and (a["program"], a["cycle"]) == (ent["program"], ent["cycle"]):
            return key.split(":", 1)[1]
    raise UsageError(
        f"no allowance for {ent['program']} {ent['cycle']} is known on this device; "
        "sync to receive one, or give --allowance"
    )


@aid.command("void")
@click.argument("entitlement_id")
@click.option("--reason", required=True)
@click.option(
    "--event",
    "redemption_event_id",
    default=None,
    help="Event id of the redemption (default: the entitlement's current one).",
)
@common_options
def aid_void(
    data_dir: Path,
    as_json: bool,
    entitlement_id: str,
    reason: str,
    redemption_event_id: str | None,
) -> None:
    """Void a redemption (AidRedemptionVoided)."""

    def act(agent: EdgeAgent) -> Envelope:
        target = redemption_event_id
        if target is None:
            target = view_or_empty(agent, f"entitlement:{entitlement_id}").get("redeemed_by")
        if target is None:
            raise UsageError(f"entitlement {entitlement_id} is not redeemed on this device")
        return teller.void_redemption(
            agent, entitlement_id, redemption_event_id=target, reason=reason
        )

    record(data_dir, as_json, act)
