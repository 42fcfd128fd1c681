"""``kopsync edge member|savings|loan|sale|price|stock|aid|fund|shipment …``: the counter.

One command per edge event, over :mod:`edge_agent.teller`. Every command takes
``--data DIR`` and ``--json``; money and quantities are integers (rupiah, units).
Whatever goes wrong (a malformed option, a payload the schema refuses, a local rule)
ends in ONE line ``error: …`` on stderr and a non-zero exit, never a traceback:
:class:`~edge_agent.teller_cli.common.TellerCommand` turns click's usage errors into that
line, ``friendly`` the rest.

Option names match the teller functions' keyword arguments, so most commands pass
their options straight through (the teller functions are the typed API).

One module per area: ``members``, ``money`` (savings, loans, the stimulus fund), ``shop``
(sales, prices, stock), ``aid``, ``logistics`` (shipments) and ``simulate``; what they
share (one-line errors, option parsers, record and report) is in ``common``.
"""

from __future__ import annotations

import click

from edge_agent.teller_cli.aid import aid
from edge_agent.teller_cli.logistics import shipment
from edge_agent.teller_cli.members import member
from edge_agent.teller_cli.money import fund, loan, savings
from edge_agent.teller_cli.shop import price, sale, stock
from edge_agent.teller_cli.simulate import simulate_command

GROUPS = (member, savings, loan, sale, price, stock, aid, fund, shipment)


def register(edge: click.Group) -> None:
    """Add the teller groups and ``simulate`` to the ``kopsync edge`` group."""
    for group in GROUPS:
        edge.add_command(group)
    edge.add_command(simulate_command)
