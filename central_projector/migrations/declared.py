"""Every table the central migrations make, as the code declares them (for autogenerate and
for the test that the migrated schema matches the code)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from central_projector.console.operators import metadata as operators_metadata
from central_projector.projection.readmodels.tables import metadata as read_models
from central_projector.projection.scaleout.stage import stage_meta
from central_projector.record.leases import metadata as leases_metadata
from central_projector.record.tables import metadata as record

METADATA = [record, leases_metadata, operators_metadata, read_models, stage_meta]


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Whether a column's type differs; SQLite's INTEGER already holds 64 bits, so it is the
    same as BIGINT there (no table is copied to change a name). Else Alembic decides."""
    integers = (sa.Integer, sa.BigInteger)
    if (
        context.dialect.name == "sqlite"
        and isinstance(inspected_type, integers)
        and isinstance(metadata_type, integers)
    ):
        return False
    return None
