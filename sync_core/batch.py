"""Upload batches: many envelopes of one device in one compressed message.

The body is zstd-compressed msgpack ``{"v": 1, "coop_id", "device_id", "events": [bytes]}``
whose items are envelope bytes exactly as signed and stored on the device.
Batching and compression are what make a satellite link usable: one message
and one acknowledgement per few hundred events, and repeated keys compressed away.
"""

from __future__ import annotations

from dataclasses import dataclass

import zstandard

from sync_core import codec
from sync_core.errors import DecodeError

VERSION = 1
MAX_BATCH_BYTES = 1024 * 1024  # decompressed; larger messages are quarantined as oversize
# Events in one batch: ten times what a device sends (500), and what 1 MB of real envelopes
# holds at most. Without it 155 bytes of zstd can carry 500,000 empty "events", each one a
# quarantine row.
MAX_BATCH_EVENTS = 5_000
LEVEL = 3

_compressor = zstandard.ZstdCompressor(level=LEVEL)
_decompressor = zstandard.ZstdDecompressor()


@dataclass(frozen=True, slots=True)
class UploadBatch:
    """Consecutive events of one device."""

    coop_id: str
    device_id: str
    events: list[bytes]


class Oversize(DecodeError):
    """A message larger than the ingest limit."""


def encode_batch(coop_id: str, device_id: str, events: list[bytes]) -> bytes:
    body = codec.encode(
        {"v": VERSION, "coop_id": coop_id, "device_id": device_id, "events": events}
    )
    return _compressor.compress(body)


def decode_batch(data: bytes, *, max_bytes: int = MAX_BATCH_BYTES) -> UploadBatch:
    """Decompress and decode a batch; raise :class:`DecodeError` (or :class:`Oversize`)."""
    try:
        params = zstandard.get_frame_parameters(data)
    except zstandard.ZstdError as exc:
        raise DecodeError(f"not a zstd frame: {exc}") from exc
    if params.content_size > max_bytes:
        raise Oversize(f"batch of {params.content_size} bytes exceeds the {max_bytes}-byte limit")
    try:
        body = _decompressor.decompress(data, max_output_size=max_bytes)
    except zstandard.ZstdError as exc:
        if "exceeds" in str(exc) or "too small" in str(exc):
            raise Oversize(f"batch exceeds the {max_bytes}-byte limit") from exc
        raise DecodeError(f"cannot decompress batch: {exc}") from exc
    value = codec.decode(body, max_bytes=max_bytes)
    if not isinstance(value, dict) or value.get("v") != VERSION:
        raise DecodeError("batch must be a map with v=1")
    events = value.get("events")
    coop, device = value.get("coop_id"), value.get("device_id")
    if not isinstance(coop, str) or not isinstance(device, str):
        raise DecodeError("batch lacks coop_id or device_id")
    if isinstance(events, list) and len(events) > MAX_BATCH_EVENTS:
        raise Oversize(f"batch of {len(events)} events exceeds the {MAX_BATCH_EVENTS}-event limit")
    if not isinstance(events, list) or not all(isinstance(e, bytes) for e in events):
        raise DecodeError("batch events must be a list of envelope bytes")
    if not events:
        # No device sends one; accepted, it would be the one message that leaves no trace.
        raise DecodeError("batch holds no events")
    return UploadBatch(coop, device, events)


def batch_msg_id(device_id: str, first_seq: int, last_seq: int) -> str:
    return f"{device_id}:{first_seq}-{last_seq}"
