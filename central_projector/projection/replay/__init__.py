"""``kopsync central replay``: rebuild read models beside the live ones, swap in one step.

See :mod:`central_projector.projection.replay.runner` for the steps (plan, build, finish),
:mod:`central_projector.projection.replay.scope` for what ``--projection`` and ``--since`` rebuild
and why that is exact, and :mod:`central_projector.projection.replay.shadow` for the ``rmx_``
tables.
"""

from central_projector.projection.replay.runner import Finished, Replay, ReplayStale, since_ms
from central_projector.projection.replay.scope import AREAS, Scope, projections

__all__ = ["AREAS", "Finished", "Replay", "ReplayStale", "Scope", "projections", "since_ms"]
