"""The hello handshake and the wait for the central's commit, re-sending what it lost.

**hello** ``kop.hello.{coop}.{device}``: the central answers with the highest contiguous seq
it has *committed* (its store, not JetStream, is the record), its clock and its issuer key.
The device pins the key on first contact (trust on first use) and refuses another one later;
it advances its HLC past the central's clock; it saves ``confirmed_seq``.

**confirm**: hello again until the central's committed seq reaches what JetStream acked. The
reply's ``ingest_seq`` is the KOP_INGEST stream sequence up to which the central has processed
every upload. When it has passed the stream sequence of the batch holding ``committed + 1``
and that seq is still not committed, the message is gone (lost by JetStream, purged) and the
missing ranges are re-sent at once; while it has not, the central is merely busy and the
device waits instead of flooding it. As a safety net (a central without ``ingest_seq``, a
server that lost data and re-used sequence numbers), a central whose committed seq and ingest
position both stand still for ``stall_s`` also gets a re-send, and that time doubles after
each one (:mod:`edge_agent.app.sendplan` decides; this module acts).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.lan import HubLink
from edge_agent.app.sendplan import Progress, StallWatch, plan_resend
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.app.syncstate import Tally, read_sync, update_sync
from edge_agent.app.upload import Uploader
from sync_core import subjects
from sync_core.errors import CentralKeyChanged, DecodeError, SyncError
from sync_core.protocol import HelloRefusal, HelloReply, HelloRequest, hub_domain
from sync_core.transport import Link, NoResponders


class Handshake:
    """Hellos with the central, and the confirmation loop built on them."""

    def __init__(
        self,
        agent: EdgeAgent,
        settings: ReplicatorSettings,
        progress: Progress,
        uploader: Uploader,
        log: Any,
    ) -> None:
        self.agent = agent
        self.settings = settings
        self.progress = progress
        self.uploader = uploader
        self.log = log
        self.watch = StallWatch(settings.stall_s, settings.max_stall_s)

    async def hello(self, link: Link, tally: Tally) -> HelloReply | None:
        """The central's answer (its key checked, the device's clock and state updated), or
        ``None`` when no central answers."""
        head = self.agent.head()
        via = hub_domain(self.agent.coop_id) if isinstance(link, HubLink) else None
        request = HelloRequest(self.agent.coop_id, self.agent.device_id, head.seq, head.hlc, via)
        subject = subjects.hello(self.agent.coop_id, self.agent.device_id)
        timeout_s = self.settings.hello_timeout_s
        try:
            msg = await link.request(subject, request.encode(), timeout_s, "hello")
        except NoResponders:
            if self.progress.central_seen:
                self.log.warning("central_not_answering", detail="uploading without a hello")
            self.progress.central_seen = False
            return None
        self.progress.central_seen = True
        reply = check_reply(msg.data)
        tally.central_answered = True
        tally.registered = reply.registered
        self.pin_key(reply.central_key, reply.issuer)
        self.progress.trusted = True
        self.agent.observe_clock(reply.hlc)
        changes: dict[str, Any] = {"last_contact": time.time_ns() // 1_000_000}
        if reply.registered:
            changes["confirmed_seq"] = reply.committed_seq
        else:
            self.log.warning(
                "device_not_registered",
                detail="uploads wait in the central's quarantine until "
                "`kopsync central device add` registers this device",
            )
        self.update_sync(changes)
        return reply

    def pin_key(self, key: bytes, issuer: str) -> None:
        sync = read_sync(self.agent)
        pinned = sync.get("central_key")
        if pinned is not None and (pinned != key or sync.get("issuer", issuer) != issuer):
            raise CentralKeyChanged(
                f"the central presents issuer key {key.hex()[:16]}… ({issuer}) but this device "
                f"pinned {bytes(pinned).hex()[:16]}… ({sync.get('issuer')}) on first contact; "
                "refusing to sync (wrong server, or a re-keyed central: re-pin deliberately)"
            )
        # The store's seal pins it too (a no-op once it does): what verifies the downlink
        # events it holds, out of reach of an edit of the sync record.
        self.agent.store.pin_issuer(issuer, key)
        if pinned is None:
            self.log.info("central_key_pinned", issuer=issuer, key=key.hex())
            self.update_sync({"central_key": key, "issuer": issuer})

    def update_sync(self, changes: dict[str, Any]) -> None:
        update_sync(self.agent, changes)

    def committed(self, reply: HelloReply | None) -> int:
        """What the central committed: as it just said, else as it said last time."""
        if reply is not None and reply.registered:
            return reply.committed_seq
        return int(read_sync(self.agent).get("confirmed_seq", 0))

    async def confirm(self, link: Link, tally: Tally, reply: HelloReply, until: float) -> None:
        """Ask until the central committed everything JetStream acked; re-send what is lost."""
        loop = asyncio.get_running_loop()
        progress = self.progress
        while True:
            committed = reply.committed_seq
            progress.placed = [p for p in progress.placed if p.last > committed]
            now = loop.time()
            self.watch.observe(committed, reply.ingest_seq, now)
            if committed >= progress.acked:
                return
            resend = plan_resend(reply, progress, self.watch, now)
            if resend is not None:
                self.log.info(
                    "resending",
                    seq=committed + 1,
                    committed_seq=committed,
                    acked_seq=progress.acked,
                    ranges=resend.ranges,
                    why=resend.why,
                )
                await self.uploader.publish_ranges(link, resend.ranges, tally, resend=True)
                self.watch.resent(committed, loop.time(), lost=resend.lost)
            left = until - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(self.settings.poll_s, left))
            answer = await self.hello(link, tally)
            if answer is None or not answer.registered:
                return
            reply = answer


def check_reply(data: bytes) -> HelloReply:
    """The central's hello reply, or a SyncError saying why it cannot be used."""
    try:
        reply = HelloReply.decode(data)
    except DecodeError as exc:
        raise SyncError(f"the central's hello reply is malformed: {exc}") from exc
    if isinstance(reply, HelloRefusal):
        raise SyncError(f"the central refused the hello: {reply.error}")
    return reply
