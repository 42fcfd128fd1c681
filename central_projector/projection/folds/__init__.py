"""Pure read-model folds of the central projection (no SQLAlchemy, no asyncio).

One module per area, each stating its conflict rules in its header:
:mod:`membership`, :mod:`savings`, :mod:`loans`, :mod:`shop_stock`, :mod:`aid`,
:mod:`stimulus`, :mod:`logistics`, :mod:`sync_health`; :mod:`conflicts` holds the
conflict items and their resolution; :mod:`fold` dispatches.
"""

from central_projector.projection.folds.base import Event, Key, MemoryState, Row, State
from central_projector.projection.folds.fold import HANDLERS, MemoryProjector, apply

__all__ = ["HANDLERS", "Event", "Key", "MemoryProjector", "MemoryState", "Row", "State", "apply"]
