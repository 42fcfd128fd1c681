"""Fixtures of the edge agent's HTTP API: a fresh device and its API on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.edge_http import LiveApi, issue

from edge_agent.app import teller
from edge_agent.app.agent import EdgeAgent

COOP = "6401050012-PB"  # Paser Belengkong (village code made up within Paser, 6401)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[EdgeAgent]:
    with EdgeAgent.init(tmp_path / "kasir-1", COOP, "pb-kasir-1") as a:
        yield a


@pytest.fixture
def members(agent: EdgeAgent) -> EdgeAgent:
    """A device where members M-1 and M-2 are registered (savings, loans and member sales
    name a member known here)."""
    for i in (1, 2):
        teller.register_member(
            agent, nik=f"640105120488{i:04d}", kk_no="6401050101090009", name=f"Anggota {i}",
            birth_date="1988-04-12", desa_code="6401050012", member_id=f"M-{i}",
        )  # fmt: skip
    return agent


@pytest.fixture
def api(agent: EdgeAgent) -> Iterator[LiveApi]:
    with LiveApi(agent) as live:
        yield live


@pytest.fixture
def aid(agent: EdgeAgent) -> EdgeAgent:
    """A device that received a family's KHBS card, two entitlements, a blocked card and a
    small allowance (two redemptions, Rp500.000) from the central."""
    issue(
        agent,
        ("BeneficiaryEnrolled", "B-1", {"kk_no": "6401050101090003", "home_coop": COOP}),
        ("CardIssued", "KHBS-1", {"beneficiary_id": "B-1"}),
        ("CardIssued", "KHBS-2", {"beneficiary_id": "B-1"}),
        ("CardBlocked", "KHBS-2", {"reason": "kartu hilang"}),
        *(
            ("EntitlementGranted", f"ENT-{n}", grant)
            for n, grant in enumerate(
                [
                    {"card_uid": "KHBS-1", "value": 300_000},
                    {"card_uid": "KHBS-1", "value": 200_000},
                    {"card_uid": "KHBS-2", "value": 300_000},
                    {"card_uid": "KHBS-1", "value": 100_000},
                ],
                start=1,
            )
            for grant in [grant | {"beneficiary_id": "B-1", "program": "BLT", "cycle": "2026-11"}]
        ),
        (
            "RedemptionAllowanceAllocated",
            "ALW-1",
            {
                "scope": "COOP",
                "program": "BLT",
                "cycle": "2026-11",
                "max_count": 2,
                "max_value": 500_000,
            },
        ),
        (
            "RedemptionAllowanceAllocated",
            "ALW-OTHER",
            {
                "scope": "DEVICE",
                "device_id": "pb-kasir-9",
                "program": "BLT",
                "cycle": "2026-11",
                "max_count": 9,
                "max_value": 9_000_000,
            },
        ),
    )
    return agent
