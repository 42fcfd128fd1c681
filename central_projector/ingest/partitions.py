"""Ingest spread over workers: KOP_INGEST split into partitions by cooperative, one lease each.

With ``ingest_partitions`` N > 1 the stream stores each upload under
``kop.up.{p}.{coop}.{device}``, where ``p = {{partition(N,1)}}`` is computed by the NATS
server itself from the cooperative token (a subject transform of the stream: devices go
on publishing ``kop.up.{coop}.{device}``, their permissions do not change). Each
partition has its own durable pull consumer ``ingest-p{k}of{N}`` filtered to
``kop.up.{k}.>``, and its own lease ``ingest-p{k}of{N}`` in the central store: only the
lease holder fetches from that consumer, and every upload's transaction is fenced by
the lease (:func:`central_projector.record.leases.fence`), so two workers never apply
the same partition at once; a device's uploads are all in one partition, in order.

The hello is answered by any worker from the shared store. Its ``ingest_seq`` must be a
stream position below which *every* upload was processed: the smallest over the
partitions of their ack floor, where a partition with nothing pending counts as caught
up to the stream's last sequence read before its consumer info.
"""

from __future__ import annotations

from nats.js.api import SubjectTransform

from sync_core import subjects


def consumer_name(k: int, partitions: int) -> str:
    return f"ingest-p{k}of{partitions}"


UP = f"{subjects.PREFIX}.up"  # what every upload subject starts with


def partition_filter(k: int) -> str:
    return f"{UP}.{k}.>"


def stream_transform(partitions: int) -> SubjectTransform:
    """``kop.up.{coop}.{device}`` → ``kop.up.{partition}.{coop}.{device}``."""
    return SubjectTransform(
        src=f"{UP}.*.*",
        dest=f"{UP}.{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}",
    )


def device_subject(stored: str) -> str:
    """The subject the device published, from the one the partitioned stream stored."""
    parts = stored.split(".")
    if len(parts) == 5 and parts[:2] == UP.split(".") and parts[2].isdigit():
        return subjects.upload(parts[3], parts[4])
    return stored


def floor_of(stream_last: int, infos: list[tuple[int, int, int]]) -> int:
    """The ingest floor from (ack floor, pending, ack pending) of every partition's consumer."""
    floors = [
        ack if pending or ack_pending else max(ack, stream_last)
        for ack, pending, ack_pending in infos
    ]
    return min(floors) if floors else 0
