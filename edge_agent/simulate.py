"""``kopsync edge simulate``'s workload: the public entry point of :mod:`edge_agent.sim`.

``simulate(agent, n, seed=s)`` records exactly ``n`` valid events of every edge area
through the teller API; the package's docstring tells how (shared pool, reference data,
continuation, simulated calendar).
"""

from edge_agent.sim import *  # noqa: F403 (this module is edge_agent.sim's public API, as is)
from edge_agent.sim import __all__ as __all__
