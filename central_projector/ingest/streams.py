"""The JetStream layout of docs/PROTOCOL.md, created or brought up to date idempotently.

Four file-backed streams with limits retention and one durable pull consumer::

    KOP_INGEST      kop.up.>    device uploads; 7 days; de-dup window (2 min by default);
                                at most 1,000 per device subject (the oldest are dropped)
    KOP_EVENTS      kop.ev.>    verified events after commit; no age limit, size-capped
    KOP_QUARANTINE  kop.q.>     what ingest refused, with its reason; 30 days
    KOP_DOWN        kop.down.>  centrally issued events for the devices; 90 days
    ingest          durable pull consumer on KOP_INGEST, explicit ack

None of these streams is a system of record: the edge keeps each event until the central
store has committed it, and the central store is the record after that (deploy/nats/README.md).
Their limits only bound disk use; losing a stream costs a re-send, not data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from central_projector.ingest.partitions import (
    consumer_name,
    partition_filter,
    stream_transform,
)
from sync_core import subjects
from sync_core.batch import MAX_BATCH_BYTES
from sync_core.protocol import (
    DOWN_STREAM,
    EVENTS_STREAM,
    INGEST_CONSUMER,
    INGEST_STREAM,
    QUARANTINE_STREAM,
)
from sync_core.transport.streams import put_stream

# The names are the protocol's (sync_core.protocol); short aliases for the central's modules.
INGEST = INGEST_STREAM
EVENTS = EVENTS_STREAM
QUARANTINE = QUARANTINE_STREAM
DOWN = DOWN_STREAM

DAY_S = 24 * 3600.0
GIB = 1024**3
# Ingest must see an oversize upload to quarantine it, so the stream accepts messages well
# beyond the ingest limit (the server's max_payload caps what a client can publish anyway).
MAX_MSG_BYTES = 8 * MAX_BATCH_BYTES

# Shares of the storage budget. KOP_EVENTS keeps history (no age limit), so it gets most.
_SHARES = {INGEST: 0.25, EVENTS: 0.65, QUARANTINE: 0.03, DOWN: 0.07}

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Limits of the four streams; ``budget_bytes`` is split among them (``max_bytes``).

    The server reserves every stream's ``max_bytes`` from its ``max_file_store`` when the
    stream is created, so the sum must fit the server's JetStream storage.
    """

    budget_bytes: int = 48 * GIB
    dedup_window_s: float = 120.0
    ingest_max_age_s: float = 7 * DAY_S
    quarantine_max_age_s: float = 30 * DAY_S
    down_max_age_s: float = 90 * DAY_S
    ack_wait_s: float = 30.0
    max_ack_pending: int = 1024
    replicas: int = 1  # 3 on a clustered JetStream (deploy/compose.yaml)
    ingest_partitions: int = 1  # > 1: KOP_INGEST split by cooperative (scaleout.ingest_partitions)
    # KOP_INGEST keeps at most this many uploads per device subject, the oldest go first. A
    # device's flood then has at most this many messages ahead of any other device's upload
    # (the server enforces it, whatever ingest does); a real device has a few in flight.
    uploads_per_device: int = 1000

    def max_bytes(self, stream: str) -> int:
        return int(self.budget_bytes * _SHARES[stream])


def stream_configs(settings: StreamSettings) -> list[StreamConfig]:
    """The four stream configurations (pure: decide first, the I/O is in ``ensure_streams``)."""

    def base(name: str, subject: str, max_age: float, **extra: Any) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=[subject],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=max_age,
            max_bytes=settings.max_bytes(name),
            max_msg_size=MAX_MSG_BYTES,
            num_replicas=settings.replicas,
            duplicate_window=settings.dedup_window_s,
            **extra,
        )

    s2 = StoreCompression.S2
    split: dict[str, Any] = {}
    if settings.ingest_partitions > 1:
        split["subject_transform"] = stream_transform(settings.ingest_partitions)
    return [
        # Uploads are zstd already: compressing them again on disk would only cost CPU.
        base(
            INGEST,
            subjects.upload_wildcard(),
            settings.ingest_max_age_s,
            max_msgs_per_subject=settings.uploads_per_device,
            **split,
        ),
        base(EVENTS, subjects.canonical_wildcard(), 0, compression=s2),
        base(QUARANTINE, subjects.quarantine_wildcard(), settings.quarantine_max_age_s),
        base(DOWN, subjects.downlink_wildcard(), settings.down_max_age_s, compression=s2),
    ]


def ingest_consumers(settings: StreamSettings) -> list[tuple[str, str]]:
    """(consumer name, filter subject) of every ingest consumer."""
    n = settings.ingest_partitions
    if n <= 1:
        return [(INGEST_CONSUMER, subjects.upload_wildcard())]
    return [(consumer_name(k, n), partition_filter(k)) for k in range(n)]


def ingest_consumer_config(
    settings: StreamSettings, name: str = INGEST_CONSUMER, filter_subject: str | None = None
) -> ConsumerConfig:
    return ConsumerConfig(
        name=name,
        durable_name=name,
        filter_subject=filter_subject or subjects.upload_wildcard(),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        # Unlimited: a message the store cannot take yet (database down) must come back
        # until it can; poison messages never loop, the store quarantines and they get acked.
        max_deliver=-1,
        max_ack_pending=settings.max_ack_pending,
    )


async def ensure_streams(js: JetStreamContext, settings: StreamSettings) -> None:
    """Create the streams and the ingest consumer, or update them to ``settings``."""
    for config in stream_configs(settings):
        if (why := await put_stream(js, config)) is not None:
            log.info("updated stream %s (%s)", config.name, why)
    for name, filter_subject in ingest_consumers(settings):
        await js.add_consumer(INGEST, ingest_consumer_config(settings, name, filter_subject))


async def stream_last_seq(js: JetStreamContext, stream: str) -> int | None:
    """The stream's last sequence, or ``None`` if the stream does not exist."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return None
    return int(info.state.last_seq)
