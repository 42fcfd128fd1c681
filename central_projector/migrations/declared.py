"""Every table the central migrations make, as the code declares them (for autogenerate and
for the test that the migrated schema matches the code)."""

from __future__ import annotations

from central_projector.console.operators import metadata as operators_metadata
from central_projector.projection.readmodels.tables import metadata as read_models
from central_projector.projection.scaleout.stage import stage_meta
from central_projector.record.leases import metadata as leases_metadata
from central_projector.record.tables import metadata as record

METADATA = [record, leases_metadata, operators_metadata, read_models, stage_meta]
