"""The checks of an upload that need no stored rows: the message, the device, each event.

Pure (the rules are in :mod:`central_projector.ingest.verdict`).
"""

from __future__ import annotations

from central_projector.ingest.verdict import Checked, Decision, Device, Refused, Upload
from schemas import REGISTRY
from sync_core import subjects
from sync_core.batch import Oversize, decode_batch
from sync_core.envelope import Envelope
from sync_core.errors import (
    DecodeError,
    InvalidId,
    SignatureInvalid,
    UnknownEventType,
    ValidationError,
)

# Refused events one upload may add to the quarantine one by one; beyond it the message is
# quarantined whole, as one record (its bytes, and the count of each reason in the detail).
MAX_REFUSED_EVENTS = 16


def whole(device_id: str | None, reason: str, detail: str, data: bytes) -> Decision:
    refused = Refused(reason, detail, None, data)
    return Decision(device_id, (refused,), (refused,))


def open_upload(subject: str, data: bytes) -> Upload | Decision:
    """The upload in a message, or the message refused as a whole."""
    try:
        ids = subjects.parse_upload(subject)
    except InvalidId as exc:
        return whole(None, "subject_mismatch", str(exc), data)
    coop_id, device_id = ids.coop_id, ids.device_id
    try:
        batch = decode_batch(data)
    except Oversize as exc:
        return whole(device_id, "oversize", str(exc), data)
    except DecodeError as exc:
        return whole(device_id, "undecodable", str(exc), data)
    if (batch.coop_id, batch.device_id) != (coop_id, device_id):
        detail = f"batch says {batch.coop_id}/{batch.device_id}, subject {coop_id}/{device_id}"
        return whole(device_id, "subject_mismatch", detail, data)
    return Upload(coop_id, device_id, tuple(batch.events), data)


def admit(upload: Upload, device: Device | None) -> Device | Decision:
    """The device, if it may upload now; else the message refused as a whole."""
    device_id = upload.device_id
    if device is None:
        detail = f"device {device_id} is not registered; `kopsync central device add` it"
        return whole(device_id, "unregistered_device", detail, upload.data)
    if device.retired:
        detail = f"device {device_id} is retired; its uploads are kept here, not committed"
        return whole(device_id, "retired_device", detail, upload.data)
    if device.coop_id != upload.coop_id:
        detail = f"device {device_id} belongs to {device.coop_id}, not {upload.coop_id}"
        return whole(device_id, "coop_mismatch", detail, upload.data)
    return device


def check(upload: Upload, device: Device) -> tuple[Checked | Refused, ...]:
    """Each event decoded and verified on its own (nothing here depends on the record)."""
    return tuple(_check(raw, device) for raw in upload.events)


def _check(raw: bytes, device: Device) -> Checked | Refused:
    try:
        env = Envelope.decode(raw)
    except DecodeError as exc:
        return Refused("undecodable", str(exc), None, raw)
    if env.device_id != device.device_id:
        return Refused("subject_mismatch", f"event of device {env.device_id} in its upload",
                       env.seq, raw)  # fmt: skip
    if env.coop_id != device.coop_id:
        return Refused("coop_mismatch", f"device of {device.coop_id} publishing for "
                       f"{env.coop_id}", env.seq, raw)  # fmt: skip
    try:
        env.verify_signature(device.public_key)
    except SignatureInvalid as exc:
        return Refused("bad_signature", str(exc), env.seq, raw)
    try:
        schema = REGISTRY.get(env.type, env.version)
        REGISTRY.validate(env.type, env.payload, env.version)
    except UnknownEventType as exc:
        return Refused("unknown_type", str(exc), env.seq, raw)
    except ValidationError as exc:
        return Refused("invalid_payload", str(exc), env.seq, raw)
    if "edge" not in schema.origin:
        return Refused("not_edge_event", f"{env.type} is issued centrally only", env.seq, raw)
    return Checked(env, raw)


def bounded(decision: Decision, upload: Upload) -> Decision:
    """``decision``, or the whole message as one ``garbage_batch`` record when it would refuse
    more than :data:`MAX_REFUSED_EVENTS` events (its valid events are not applied: a device
    whose batch is garbage is re-sending from a broken store, or is not a device at all)."""
    refused = [r for r in decision.writes if isinstance(r, Refused)]
    if len(refused) <= MAX_REFUSED_EVENTS:
        return decision
    counts: dict[str, int] = {}
    for r in refused:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    detail = f"{len(refused)} of {len(upload.events)} events refused ({reasons})"
    return whole(upload.device_id, "garbage_batch", detail, upload.data)
