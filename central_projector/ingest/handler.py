"""One upload message from KOP_INGEST: processed by the store in one transaction, then acked.

A crash between commit and ack redelivers the message, and ``(device_id, seq)`` makes it a
duplicate with no effect. A message the store fails on is not acked (nak with a delay) and
comes back, but only while the database itself is unavailable and for at most
:data:`MAX_DELIVERIES` deliveries; otherwise it is set aside: quarantined as
``unprocessable`` and acked. A poison message is quarantined by the store's verdicts, so it
is acked like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.msg import Msg

from central_projector.ingest.budget import QuarantineBudget
from central_projector.ingest.partitions import device_subject
from central_projector.ingest.stats import ServiceStats
from central_projector.record import leases
from central_projector.record.store import CentralStore
from sync_core import subjects
from sync_core.errors import InvalidId

log = structlog.get_logger("kopsync.central")

# A message the store keeps failing on with database errors is set aside after this many
# deliveries (one that fails for any other reason at once): bounded, and at nak's 2 s delay
# a database blip of a few seconds still lets it through.
MAX_DELIVERIES = 5

Fence = Callable[[Any], None]
Db = Callable[..., Awaitable[Any]]


class UploadHandler:
    """Processes and acks upload messages; counts in ``stats``, wakes the outbox."""

    def __init__(
        self,
        store: CentralStore,
        db: Db,
        stats: ServiceStats,
        clock: Callable[[], int],
        outbox_wake: asyncio.Event,
        budget: QuarantineBudget | None = None,
        purge: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.store = store
        self.budget = budget or QuarantineBudget()
        self.purge = purge  # removes every pending message of one stored subject
        self.db = db
        self.stats = stats
        self.clock = clock
        self.outbox_wake = outbox_wake

    async def handle(self, msg: Msg, fence: Fence | None) -> None:
        """Process and ack (or nak) ``msg``; a lost lease (``fence``) raises through."""
        subject = device_subject(msg.subject)
        coop_id, device_id = _subject_ids(subject)
        self.stats.messages += 1
        # Unpartitioned, the store is called as before (stores that wrap it need no fence).
        extra: tuple[Fence, ...] = () if fence is None else (fence,)
        spender, now = device_id or subject, self.clock()
        if self.budget.exhausted(spender, now):
            await self._skip(msg, subject, spender, now, extra)
            return
        try:
            result = await self.db(
                self.store.process_upload, subject, msg.data, self.clock(), *extra
            )
        except leases.LeaseLost:
            raise
        except Exception as exc:
            self.stats.ingest_errors += 1
            log.error(
                "ingest_failed",
                coop_id=coop_id,
                device_id=device_id,
                seq=None,
                subject=msg.subject,
                error=repr(exc),
            )
            if not await self._set_aside(msg, subject, exc, extra):
                # Not acked: the message comes back (sooner than ack_wait, thanks to the delay).
                with contextlib.suppress(Exception):
                    await msg.nak(delay=2)
            return
        st = self.stats
        st.add(result)
        self.budget.spend(spender, len(result.quarantined), now)
        log.info(
            "ingested",
            coop_id=coop_id,
            device_id=result.device_id or device_id,
            seq=result.committed_seq,
            committed=result.committed,
            duplicates=result.duplicates,
            held=result.held,
            quarantined=len(result.quarantined),
        )
        with contextlib.suppress(Exception):  # a message without JetStream metadata (tests)
            stored = msg.metadata.timestamp.timestamp()
            st.upload_lag_ms = max(0, self.clock() - int(stored * 1000))
        for reason, detail in result.quarantined:
            log.warning(
                "quarantined",
                coop_id=coop_id,
                device_id=result.device_id or device_id,
                seq=None,
                reason=reason,
                detail=detail,
                subject=msg.subject,
            )
        try:
            await msg.ack()
            st.acked += 1
        except Exception as exc:
            # Committed already: the redelivery will be a duplicate with no effect.
            log.warning("ack_failed", coop_id=coop_id, device_id=device_id, error=repr(exc))
        self.outbox_wake.set()

    async def _set_aside(
        self, msg: Msg, subject: str, exc: Exception, extra: tuple[Fence, ...]
    ) -> bool:
        """Quarantine a failing message as ``unprocessable`` and ack it, when retrying cannot
        help: the failure is not the database's, or it failed :data:`MAX_DELIVERIES` times.
        ``False`` when it must come back (the database is down, or refused the quarantine too):
        without this a message ingest cannot take would come back forever and, a thousand of
        them, fill the consumer's ``max_ack_pending`` so that no device's upload gets through.
        """
        delivered = _delivered(msg)
        if self.store.unavailable(exc) and delivered < MAX_DELIVERIES:
            return False
        detail = f"ingest failed on delivery {delivered}: {exc!r}"[:500]
        if not await self._quarantine(msg, subject, "unprocessable", detail, extra):
            return False
        self.budget.spend(_subject_ids(subject)[1] or subject, 1, self.clock())
        return True

    async def _skip(
        self, msg: Msg, subject: str, device: str, now: int, extra: tuple[Fence, ...]
    ) -> None:
        """Ack an upload of a device over its quarantine budget unprocessed (module
        :mod:`~central_projector.ingest.budget`); one ``over_budget`` record now and then, and
        the device's pending uploads purged from the stream."""
        self.stats.over_budget += 1
        if self.budget.note_due(device, now):
            detail = (
                f"{device} caused more than {self.budget.burst:g} quarantine records, then more "
                f"than {self.budget.per_second:g} a second: its uploads are acknowledged "
                "unprocessed and its pending ones purged from KOP_INGEST until its budget "
                "refills (a device re-sends what was not committed)"
            )
            noted = await self._quarantine(msg, subject, "over_budget", detail, extra)
        else:
            noted = False
        if not noted:
            with contextlib.suppress(Exception):
                await msg.ack()
                self.stats.acked += 1
        if self.purge is not None and self.budget.purge_due(device, now):
            try:
                await self.purge(msg.subject)
                self.stats.purges += 1
            except Exception as exc:  # the next skipped message tries again
                log.warning("purge_failed", subject=msg.subject, error=repr(exc))

    async def _quarantine(
        self, msg: Msg, subject: str, reason: str, detail: str, extra: tuple[Fence, ...]
    ) -> bool:
        """Quarantine the whole message with ``reason``, then ack it; ``False`` if the record
        could not be written (the message is then left to come back)."""
        try:
            await self.db(
                self.store.quarantine_message,
                subject,
                msg.data,
                reason,
                detail,
                self.clock(),
                *extra,
            )
        except leases.LeaseLost:
            raise
        except Exception as again:
            log.error("quarantine_failed", subject=msg.subject, error=repr(again))
            return False
        self.stats.refused(reason)
        log.warning("quarantined", subject=msg.subject, reason=reason, detail=detail)
        with contextlib.suppress(Exception):
            await msg.ack()
            self.stats.acked += 1
        self.outbox_wake.set()
        return True


def _delivered(msg: Msg) -> int:
    """How many times JetStream has delivered ``msg`` (1 for a message without metadata)."""
    try:
        return int(msg.metadata.num_delivered or 1)
    except Exception:  # a plain NATS message (tests): a first delivery
        return 1


def _subject_ids(subject: str) -> tuple[str | None, str | None]:
    try:
        ids = subjects.parse_upload(subject)
    except InvalidId:
        return None, None
    return ids.coop_id, ids.device_id
