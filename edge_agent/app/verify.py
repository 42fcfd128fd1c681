"""Verification of a device's log: every signature and every link of the chain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sync_core.envelope import Envelope
from sync_core.errors import IntegrityError
from sync_core.signing import GENESIS_HASH


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying a log; ``first_bad_seq`` is None when it is intact.

    ``checked`` and ``last_seq`` count the intact prefix; ``bad`` names every bad seq found,
    the first one included (a second corruption further on is not hidden by the first).
    """

    checked: int
    last_seq: int
    first_bad_seq: int | None
    reason: str | None
    bad: tuple[tuple[int, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def verify_chain(
    rows: Iterable[tuple[int, bytes]],
    public_key: bytes,
    device_id: str,
    head_seq: int,
    head_hash: bytes,
) -> VerifyReport:
    """Check that ``rows`` (stored seq, bytes) form the signed, gapless chain ending at the head.

    ``head_hash`` may be empty when only the head's seq is known (from the central). After a
    bad row the scan goes on; the row after a bad one is not blamed for not linking to it.
    """
    prev_seq, prev_hash = 0, GENESIS_HASH
    bad: list[tuple[int, str]] = []
    good_prefix: tuple[int, int] | None = None  # (checked, last good seq) at the first bad row
    checked, prev_bad = 0, False
    for stored_seq, data in rows:
        problem: str | None = None
        if stored_seq != prev_seq + 1:
            bad.append((prev_seq + 1, f"seq {prev_seq + 1} is missing"))
            good_prefix = good_prefix or (checked, prev_seq)
            prev_bad = True
        try:
            env = Envelope.decode(data)
            if env.seq != stored_seq:
                raise IntegrityError(f"the row stored as seq {stored_seq} holds seq {env.seq}")
            if env.device_id != device_id:
                raise IntegrityError(f"seq {stored_seq} claims device {env.device_id}")
            if env.prev_hash != prev_hash and not prev_bad:
                raise IntegrityError(f"seq {stored_seq} does not link to seq {prev_seq}")
            env.verify_signature(public_key)
            prev_hash = env.hash
        except IntegrityError as exc:
            problem = str(exc)
        if problem is not None:
            bad.append((stored_seq, problem))
            good_prefix = good_prefix or (checked, prev_seq)
        elif good_prefix is None:
            checked += 1
        prev_seq, prev_bad = stored_seq, problem is not None
    if prev_seq != head_seq:
        bad.append((prev_seq + 1, f"log ends at seq {prev_seq} but the head is {head_seq}"))
    elif head_hash and prev_hash != head_hash and not prev_bad:
        bad.append((prev_seq, f"seq {prev_seq} does not match the recorded chain head"))
    if not bad:
        return VerifyReport(checked, prev_seq, None, None)
    done, last = good_prefix or (checked, prev_seq)
    return VerifyReport(done, last, bad[0][0], bad[0][1], tuple(bad))
