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

from typing import Any

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.centralcheck import (
    REFUSED_KEEP,
    REFUSED_META,
    Refusal,
    check_central_envelope,
)
from edge_agent.app.feed import read_feed
from edge_agent.app.syncstate import Tally, read_sync, update_sync
from sync_core import subjects
from sync_core.envelope import Envelope
from sync_core.errors import KopsyncError, StoreError
from sync_core.protocol import DOWN_STREAM, downlink_consumer_name
from sync_core.transport.link import Link


async def pull_downlink(link: Link, agent: EdgeAgent, tally: Tally, log: Any) -> None:
    """Apply every verified central event for the device's coop after its saved position."""
    sync = read_sync(agent)
    key, issuer = sync.get("central_key"), sync.get("issuer")
    if key is None:
        return  # no verified central yet: nothing could be trusted
    await read_feed(
        link,
        link.js,
        DOWN_STREAM,
        # The one name the device's permissions allow (sync_core.protocol).
        downlink_consumer_name(agent.device_id),
        subjects.downlink(agent.coop_id),
        int(sync.get("downlink_position", 0)),
        lambda msgs: _apply(agent, msgs, bytes(key), str(issuer), tally, log),
        lambda position: update_sync(agent, {"downlink_position": position}),
        log,
    )


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
