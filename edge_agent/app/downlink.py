"""The downlink: centrally issued events, read from KOP_DOWN and checked before they apply.

The device reads ``kop.down.{coop}`` with a short-lived pull consumer named ``down-{device}``
(the one name its NATS permissions allow; no acks: the position it saves is the stream
sequence it applied up to) and applies nothing the pinned central key did not sign: a forged,
foreign or unknown event is refused and logged (quarantined locally, the last ones kept in the
``downlink_refused`` meta record), and the position moves past it so one bad message cannot
block the ones after it. ``receive_central`` is idempotent per
(issuer, seq), so reading from an older position applies nothing twice.
"""

from __future__ import annotations

import contextlib
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.centralcheck import (
    REFUSED_KEEP,
    REFUSED_META,
    Refusal,
    check_central_envelope,
)
from edge_agent.app.syncstate import Tally, read_sync, update_sync
from sync_core import subjects
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError, StoreError
from sync_core.protocol import DOWN_STREAM, downlink_consumer_name
from sync_core.transport.link import Link

FETCH = 256


async def pull_downlink(link: Link, agent: EdgeAgent, tally: Tally, log: Any) -> None:
    """Apply every verified central event for the device's coop after its saved position."""
    sync = read_sync(agent)
    key, issuer = sync.get("central_key"), sync.get("issuer")
    if key is None:
        return  # no verified central yet: nothing could be trusted
    position = int(sync.get("downlink_position", 0))
    try:
        info = await link.guarded(link.js.stream_info(DOWN_STREAM), 10, "downlink info")
    except NotFoundError:
        return
    last = int(info.state.last_seq)
    if last < position:
        log.warning("downlink_stream_restarted", position=position, last_seq=last)
        position = 0
        update_sync(agent, {"downlink_position": 0})
    if last <= position:
        return
    config = ConsumerConfig(
        # The one name the device's permissions allow (sync_core.protocol).
        name=downlink_consumer_name(agent.device_id),
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=position + 1,
        ack_policy=AckPolicy.NONE,
        filter_subject=subjects.downlink(agent.coop_id),
        inactive_threshold=60.0,
        mem_storage=True,
        num_replicas=1,
    )
    created = await link.guarded(_create_consumer(link, config), 10, "downlink consumer")
    assert config.name is not None
    try:
        remaining = int(created.num_pending or 0)
        if remaining == 0:
            update_sync(agent, {"downlink_position": last})
            return
        sub = await link.js.pull_subscribe_bind(consumer=config.name, stream=DOWN_STREAM)
        try:
            while remaining > 0:
                msgs = await link.guarded(
                    sub.fetch(min(remaining, FETCH), timeout=10), 12, "downlink fetch"
                )
                _apply(agent, msgs, bytes(key), str(issuer), tally, log)
                remaining = int(msgs[-1].metadata.num_pending)
        finally:
            await sub.unsubscribe()
    finally:
        # Best effort: the server drops it after inactive_threshold anyway.
        if link.up.is_set():
            with contextlib.suppress(KopsyncError, NotFoundError):
                await link.guarded(
                    link.js.delete_consumer(DOWN_STREAM, config.name), 5, "consumer delete"
                )


async def _create_consumer(link: Link, config: ConsumerConfig) -> ConsumerInfo:
    """Create the device's downlink consumer, replacing a leftover of another configuration.

    The name is fixed per device, so a consumer left behind by a cut link (until its
    inactive_threshold) at another start position makes the create fail (the server takes it
    for an update it refuses, e.g. ``start sequence can not be updated``): if a consumer of
    that name exists, delete it and create once more.
    """
    assert config.name is not None
    try:
        return await link.js.add_consumer(DOWN_STREAM, config)
    except APIError as exc:
        try:
            await link.js.consumer_info(DOWN_STREAM, config.name)
        except NotFoundError:
            raise exc from None  # not a name clash
    with contextlib.suppress(NotFoundError):
        await link.js.delete_consumer(DOWN_STREAM, config.name)
    return await link.js.add_consumer(DOWN_STREAM, config)


def _apply(
    agent: EdgeAgent, msgs: list[Any], key: bytes, issuer: str, tally: Tally, log: Any
) -> None:
    checked: list[tuple[int, Envelope]] = []
    refused: list[Refusal] = []
    for msg in msgs:
        position = int(msg.metadata.sequence.stream)
        result = check_central_envelope(msg.data, key, issuer, agent.coop_id, position)
        if isinstance(result, Refusal):
            refused.append(result)
        else:
            checked.append((position, result))
    applied = 0
    try:
        applied = len(agent.receive_central([env for _, env in checked]))
    except StoreError:
        raise
    except KopsyncError:
        # One of them breaks a local rule: apply the others one by one, refuse that one.
        for position, env in checked:
            try:
                applied += len(agent.receive_central([env]))
            except StoreError:
                raise
            except KopsyncError as exc:
                refused.append(Refusal(position, "refused_by_rules", str(exc), env.seq))
    for r in refused:
        log.error("downlink_refused", **r.to_json())
    if refused:
        kept = list(agent.store.meta(REFUSED_META) or [])
        kept = (kept + [r.to_json() for r in refused])[-REFUSED_KEEP:]
        agent.store.set_meta(REFUSED_META, kept)
    tally.downloaded += applied
    tally.refused += len(refused)
    update_sync(agent, {"downlink_position": int(msgs[-1].metadata.sequence.stream)})
