"""Versioned definitions of every kopsync domain event (BRIEF §4)."""

from schemas.catalog import CATALOG, EventSchema
from schemas.fields import Field
from schemas.registry import REGISTRY, Registry

__all__ = ["CATALOG", "REGISTRY", "EventSchema", "Field", "Registry"]
