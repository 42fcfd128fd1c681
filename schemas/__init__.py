"""Versioned definitions of every kopsync domain event."""

from schemas.catalog import CATALOG, EventSchema
from schemas.fields import Field
from schemas.registry import REGISTRY, Registry

__all__ = ["CATALOG", "REGISTRY", "EventSchema", "Field", "Registry"]
