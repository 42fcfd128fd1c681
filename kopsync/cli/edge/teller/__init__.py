"""``kopsync edge member|savings|loan|sale|credit|price|stock|aid|fund|shipment …``: the counter.

One command per edge event, over :mod:`edge_agent.app.teller`. Every command takes
``--data DIR`` and ``--json``; money and quantities are integers (rupiah, units).
Whatever goes wrong (a malformed option, a payload the schema refuses, a local rule)
ends in ONE line ``error: …`` on stderr and a non-zero exit, never a traceback:
:class:`~kopsync.cli.edge.teller.common.TellerCommand` turns click's usage errors into that
line, ``friendly`` the rest.

Option names match the teller functions' keyword arguments, so most commands pass
their options straight through (the teller functions are the typed API).

One module per area: ``members``, ``money`` (savings, loans, the stimulus fund), ``shop``
(sales, member credit, prices, stock), ``aid``, ``logistics`` (shipments) and ``simulate``;
what they share (one-line errors, option parsers, record and report) is in ``common``.
"""

from __future__ import annotations

import click

from kopsync.cli.edge.teller.aid import aid
from kopsync.cli.edge.teller.logistics import shipment
from kopsync.cli.edge.teller.members import member
from kopsync.cli.edge.teller.money import fund, loan, savings
from kopsync.cli.edge.teller.shop import credit, price, sale, stock
from kopsync.cli.edge.teller.simulate import simulate_command

GROUPS = (member, savings, loan, sale, credit, price, stock, aid, fund, shipment)


def register(edge: click.Group) -> None:
    """Add the teller groups and ``simulate`` to the ``kopsync edge`` group."""
    for group in GROUPS:
        edge.add_command(group)
    edge.add_command(simulate_command)
