"""A realistic, valid workload for one device, recorded through the teller API.

``simulate(agent, n, seed=s)`` records exactly ``n`` events of every edge area. Nothing
bypasses the rules: the generator keeps a shadow of what the rules look at (balances,
stock on hand, loan and entitlement states), read from the device's views on first use
and updated as it queues commands, so every command it issues is one the rules accept.
A refusal is a generator bug and ends the run with :class:`SimulationError`.

Shared pool. Devices of one cooperative given the same seed draw people, KHBS cards,
entitlements and goods from one pool derived from (coop_id, seed), never from the device
id. Run on two devices of a coop, that yields the cross-device conflict cases: the
same NIK registered on both (under different member ids, sometimes spelt differently),
the same entitlement redeemed on both, the same field of the same founding member edited
on both, and stock sold below zero with an override reason. Ids minted on a device
(members, accounts, loans, sales, shipments, receipts) carry the device id, so devices
never collide by accident.

Reference data. Redemptions need entitlements, cards and allowances, which normally come
over the downlink. ``simulate`` installs a deterministic set derived from (coop_id, seed)
as if received from the central: envelopes of issuer ``sim-central``, chained from seq 1
and signed by a key derived from (coop_id, seed). The coop's founding members (whose
profiles every device later edits) arrive the same way, as the relayed events of a
founding device ``sim-founder``. Receiving is idempotent: a second run installs nothing.

Continuation. A later run on the same device reads the device's log (ids, open loans,
WAJIB periods, its place in the pool) and views (balances, stock) and carries on with
new ids (they contain the seq). It acts only on loans it applied for and entitlements of its
pool, so events recorded by other means (``kopsync demo`` stages some) are left as they are.
Its random stream comes from (coop_id, device_id, seed,
last seq), so a run is reproducible from the same device state.

Dates are business dates of a simulated calendar (40 events a day from 2026-01-05), not
the wall clock, so payloads are reproducible. Village codes are made up within the
cooperative's regency.

Layout (modules of this package): ``world`` (calendar, goods, names, stable randomness),
``pool`` (the shared pool), ``reference`` (the central's reference events), ``device`` (the
folded log and the shadow of the views), one module of actions per area, ``generator`` (the
command mix), ``batch`` (recording) and ``run``.
"""

from edge_agent.devtools.sim.batch import SimulationError
from edge_agent.devtools.sim.pool import Entitlement, Person, Pool, counter_of
from edge_agent.devtools.sim.reference import (
    CENTRAL_DEVICE,
    FOUNDER_DEVICE,
    install_reference,
    reference_events,
    vars_of,
)
from edge_agent.devtools.sim.run import SimResult, simulate
from edge_agent.devtools.sim.world import (
    COUNTERS,
    CYCLES,
    EVENTS_PER_DAY,
    FAMILIES,
    FOUNDERS,
    FUND_PURPOSES,
    GOODS,
    GUDANG,
    LOAN_PURPOSES,
    MAIN,
    MEN,
    PHONE_PREFIXES,
    SKUS,
    SPELLINGS,
    START,
    STREETS,
    SURNAMES,
    VERIFICATIONS,
    WOMEN,
)

__all__ = [
    "CENTRAL_DEVICE",
    "COUNTERS",
    "CYCLES",
    "EVENTS_PER_DAY",
    "FAMILIES",
    "FOUNDERS",
    "FOUNDER_DEVICE",
    "FUND_PURPOSES",
    "GOODS",
    "GUDANG",
    "LOAN_PURPOSES",
    "MAIN",
    "MEN",
    "PHONE_PREFIXES",
    "SKUS",
    "SPELLINGS",
    "START",
    "STREETS",
    "SURNAMES",
    "VERIFICATIONS",
    "WOMEN",
    "Entitlement",
    "Person",
    "Pool",
    "SimResult",
    "SimulationError",
    "counter_of",
    "install_reference",
    "reference_events",
    "simulate",
    "vars_of",
]
