"""The console's suggested decisions for the quota and member-credit items, and one quota
item resolved through the form over HTTP (no browser: the form needs no JavaScript)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from support import province as P
from support.console import Console, decisions, kopsync, running_console, session
from support.projector_db import deliver

from central_projector.console.views import DECISIONS
from central_projector.projection.folds import Event
from central_projector.record.tables import events

pytestmark = pytest.mark.timeout(300)

LPG = "LPG-3KG"


def _over_quota(db_url: str) -> None:
    """Paser Belengkong is allocated 10 cylinders for January 2026 and receives 15."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:

            def last(device: str) -> int:
                q = sa.select(sa.func.max(events.c.seq)).where(events.c.device_id == device)
                return int(conn.execute(q).scalar() or 0)

            central, till = last(P.CENTRAL) + 1, last("pb-kasir-1") + 1
        t = P.T0 + 3_600_000
        deliver(engine, [
            Event((t, 0, P.CENTRAL, central), f"c-{central}", P.PASER, "QuotaAllocated", LPG,
                  {"program": "LPG_3KG", "sku": LPG, "qty": 10, "period": "2026-01"}),
            Event((t + 1, 0, "pb-kasir-1", till), f"pb-kasir-1-{till}", P.PASER,
                  "StockReceived", LPG,
                  {"sku": LPG, "qty": 15, "location": "main", "supplier": "Pertamina",
                   "doc_no": "DO-LPG-1", "unit_cost": 16_000}, t + 10),
        ], set())  # fmt: skip
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console")) as c:
        _over_quota(c.db_url)
        kopsync("central", "project", "--once", "--db", c.db_url)
        yield c


def _items(console: Console) -> list[dict[str, object]]:
    out = kopsync("central", "conflicts", "--json", "--db", console.db_url).stdout
    return list(json.loads(out))


def test_every_stock_and_credit_kind_offers_its_own_decisions() -> None:
    """QUOTA_EXCEEDED and CREDIT_OVERPAID offer decisions of their own (not the bare
    ACCEPT fallback), each an id token as the other kinds' are."""
    for kind in ("NEGATIVE_STOCK", "QUOTA_EXCEEDED", "CREDIT_OVERPAID"):
        offered = DECISIONS[kind]
        assert len(offered) >= 2 and len(set(offered)) == len(offered)
        assert all(d.isupper() and d.replace("_", "").isalpha() for d in offered)
    assert "RAISE_QUOTA" in DECISIONS["QUOTA_EXCEEDED"]
    assert {"REFUND", "KEEP_AS_ADVANCE"} <= set(DECISIONS["CREDIT_OVERPAID"])


def test_a_quota_item_is_resolved_through_the_form(console: Console) -> None:
    """The over-quota receipt raises QUOTA_EXCEEDED; its page offers the quota decisions and
    the queue's kind filter lists it; the form records a ConflictResolved event carrying the
    operator, and after projection the item is RESOLVED."""
    item = next(i for i in _items(console) if i["kind"] == "QUOTA_EXCEEDED")
    cid = str(item["id"])
    assert item["status"] == "OPEN" and item["coop_id"] == P.PASER
    budi, token = session(console, "budi")
    page = budi.get(f"/conflicts/{cid}").text
    for decision in DECISIONS["QUOTA_EXCEEDED"]:
        assert f'<option value="{decision}">' in page
    queue = budi.get("/conflicts?region=64&kind=QUOTA_EXCEEDED").text
    assert '<option value="QUOTA_EXCEEDED"' in queue and cid in queue
    form = {"csrf": token, "decision": "RETURN_EXCESS", "note": "5 tabung dikembalikan ke agen"}
    r = budi.post(f"/conflicts/{cid}/resolve", data=form)
    assert r.status_code == 303 and r.headers["location"] == f"/conflicts/{cid}?done=1"
    decided = decisions(console.db_url, cid)
    assert len(decided) == 1
    assert decided[0]["decision"] == "RETURN_EXCESS"
    assert decided[0]["resolved_by"].startswith("budi")
    kopsync("central", "project", "--once", "--db", console.db_url)
    after = next(i for i in _items(console) if i["id"] == cid)
    assert after["status"] == "RESOLVED"
