"""Routing: a partner gets exactly the events of its regions, areas and types, on its subjects."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from partner_strategies import COOPS, KEY, Case, cases

from central_projector.partners.config import Partner
from central_projector.partners.pseudonymise import encode_view, partner_view
from central_projector.partners.routing import (
    SKIP,
    Forward,
    Withhold,
    partner_subject,
    route,
)
from schemas import REGISTRY
from sync_core.envelope import seal
from sync_core.hlc import Hlc
from sync_core.signing import GENESIS_HASH

AREAS = sorted({s.area for s in REGISTRY})
PARTNER_KEY = bytes.fromhex("33" * 32)

scopes = st.builds(
    lambda regions, areas, types: Partner("bank", PARTNER_KEY, regions, areas, types),
    st.one_of(
        st.none(),
        st.lists(st.sampled_from(["62", "64", "6202", "6472", "647202", "6401050012"]), min_size=1)
        .map(sorted)
        .map(tuple),
    ),
    st.frozensets(st.sampled_from(AREAS), min_size=1),
    st.one_of(st.none(), st.frozensets(st.sampled_from(REGISTRY.types), min_size=1)),
)


@given(cases(), scopes)
def test_forwarded_exactly_when_region_area_and_type_are_allowed(case: Case, p: Partner) -> None:
    """An event is forwarded iff its coop's region code starts with an allowed prefix and its
    area (and type, if listed) is allowed; otherwise it is skipped."""
    env = case.env
    region_code = env.coop_id.split("-")[0]
    expected = (
        (p.regions is None or any(region_code.startswith(r) for r in p.regions))
        and case.schema.area in p.areas
        and (p.types is None or env.type in p.types)
    )
    decision = route(p, env.encode(), {})
    assert isinstance(decision, Forward) == expected
    if not expected:
        assert decision is SKIP


@given(cases(), st.sampled_from(["", "GAP"]))
def test_forward_carries_the_view_subject_and_dedup_id(case: Case, flags: str) -> None:
    """A forward is the pseudonymised view on kop.partner.{id}.{prov}.{regency}.{coop}.{area}.{type}
    with Nats-Msg-Id {device_id}:{seq}; only the GAP flag header passes, nothing else."""
    p = Partner("bank", PARTNER_KEY, None, frozenset(AREAS))
    env = case.env
    headers = {"Nats-Msg-Id": "x", "Kop-Internal": "secret"} | (
        {"Kop-Flags": flags} if flags else {}
    )
    decision = route(p, env.encode(), headers)
    assert isinstance(decision, Forward)
    code = env.coop_id.split("-")[0]
    assert decision.subject == (
        f"kop.partner.bank.{code[:2]}.{code[:4]}.{env.coop_id}.{case.schema.area}.{env.type}"
    )
    assert decision.data == encode_view(partner_view(env, PARTNER_KEY))
    assert decision.headers == {"Nats-Msg-Id": f"{env.device_id}:{env.seq}"} | (
        {"Kop-Flags": flags} if flags else {}
    )


def test_undecodable_and_unknown_events_are_withheld() -> None:
    """Bytes that are no envelope, or an event type this process does not know, never go out."""
    p = Partner("bank", PARTNER_KEY, None, frozenset(AREAS))
    garbage = route(p, b"\xc1not msgpack")
    assert isinstance(garbage, Withhold) and garbage.reason == "undecodable"
    env = seal(
        KEY,
        event_id="e-1",
        coop_id=COOPS[0],
        device_id="kasir-1",
        seq=1,
        hlc=Hlc(1, 0),
        type="MemberTeleported",
        version=1,
        aggregate_id="M-1",
        payload={"nik": "6472014506900003"},
        prev_hash=GENESIS_HASH,
    )
    unknown = route(p, env.encode())
    assert isinstance(unknown, Withhold) and unknown.reason == "unknown_type"


def test_region_prefixes_match_codes_not_strings_of_other_regions() -> None:
    """Region 62 covers Central Kalimantan coops only; 6401 covers Paser, not Samarinda (6472)."""
    p = Partner("bulog", PARTNER_KEY, ("6401",), frozenset({"aid"}))
    assert p.allows("6401050012", "aid", "AidRedeemed")
    assert p.allows("6401050012-KMP", "aid", "AidRedeemed")
    assert not p.allows("6472021005", "aid", "AidRedeemed")
    assert not p.allows("6401050012", "loans", "LoanDisbursed")
    assert partner_subject("bulog", "6401050012-KMP", "aid", "AidRedeemed") == (
        "kop.partner.bulog.64.6401.6401050012-KMP.aid.AidRedeemed"
    )
