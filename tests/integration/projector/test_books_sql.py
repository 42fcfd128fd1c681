"""The books' properties on the SQL read models (SQLite and PostgreSQL), any delivery order."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import books as B
from support import creditbooks, ratbooks
from support import histories as H
from support.projector_db import deliver, wipe

from central_projector.projection.folds import Event
from central_projector.projection.projector import Projector
from central_projector.projection.readmodels import queries
from central_projector.projection.readmodels.tables import TABLES, decode_row
from central_projector.record.store import CentralStore
from central_projector.reporting import ministry, rat

# As many examples as the profile asks (200 in CI); one projector for all of them.
EXAMPLES = settings(
    settings.default,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _projector(url: str) -> Projector:
    CentralStore(url).close()
    return Projector(url, batch_size=7)


def _project(projector: Projector, events: list[Event], data: st.DataObject) -> None:
    wipe(projector.engine)
    seen: set[tuple[str, int]] = set()
    for batch in H.deliveries(data.draw, events):
        deliver(projector.engine, batch, seen)
        if data.draw(st.booleans(), label="project now"):
            projector.run_once()
    projector.run_once()


def _rows(projector: Projector, kind: str) -> list[dict[str, object]]:
    with projector.engine.connect() as conn:
        return [decode_row(kind, dict(m)) for m in conn.execute(TABLES[kind].select()).mappings()]


def test_sql_books_conserve_loans_and_card_wallets(db_url: str) -> None:
    """On the SQL read models, for any delivery and batching: loan conservation from the
    events, and no card wallet paying out beyond its value without an OVERSPEND item of
    exactly the excess."""
    projector = _projector(db_url)

    @EXAMPLES
    @given(events=B.books_histories(("loans", "wallet")), data=st.data())
    def check(events: list[Event], data: st.DataObject) -> None:
        _project(projector, events, data)
        loans = _rows(projector, "loan")
        for row in loans:
            B.check_loan(row, events)
        assert {(r["coop_id"], r["loan_id"]) for r in loans} == {
            (e.coop_id, e.aggregate_id) for e in events if e.type.startswith("Loan")
        }
        with projector.engine.connect() as conn:
            queue = queries.conflicts(conn)
        cards = _rows(projector, "card")
        for row in cards:
            B.check_card(row, events, queue)
        assert {r["card_uid"] for r in cards} >= set(B.CARDS)

    try:
        check()
    finally:
        projector.close()


def test_sql_rat_basis_equals_sums_over_the_events(db_url: str) -> None:
    """On the SQL read models, for any delivery and batching, the RAT basis of every
    cooperative and year equals sums over the events (`central report rat` reads it so),
    every member's credit sold = repaid + outstanding (− an overpaid item of the excess), and
    the ministry export's receivables on any day are the member credit dated by then."""
    projector = _projector(db_url)

    @EXAMPLES
    @given(events=B.books_histories(("loans", "rat", "credit")), data=st.data())
    def check(events: list[Event], data: st.DataObject) -> None:
        _project(projector, events, data)
        loans = _rows(projector, "loan")
        with projector.engine.connect() as conn:
            creditbooks.check_receivables(
                _rows(projector, "receivable"), events, queries.conflicts(conn)
            )
            for coop in {e.coop_id for e in events}:
                mine = [r for r in loans if r["coop_id"] == coop]
                for year in (2025, 2026):
                    ratbooks.check_rat(rat.coop_rat(conn, coop, year), events, mine)
                dated = {d for xs in creditbooks.credit_entries(events).values() for d, *_ in xs}
                for day in sorted(dated | {"2025-12-30", "2027-12-31"}):
                    assert ministry.receivables_table(conn, coop, day) == (
                        creditbooks.as_of_day(events, coop, day)
                    )

    try:
        check()
    finally:
        projector.close()
