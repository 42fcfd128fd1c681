"""Verification of a device's log: every signature and every link of the chain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sync_core.envelope import Envelope
from sync_core.errors import IntegrityError
from sync_core.signing import GENESIS_HASH


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying a log; ``first_bad_seq`` is None when it is intact."""

    checked: int
    last_seq: int
    first_bad_seq: int | None
    reason: str | None

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

    ``head_hash`` may be empty when only the head's seq is known (from the central).
    """
    prev_seq, prev_hash, checked = 0, GENESIS_HASH, 0
    for stored_seq, data in rows:
        expected = prev_seq + 1
        if stored_seq != expected:
            return VerifyReport(checked, prev_seq, expected, f"seq {expected} is missing")
        try:
            env = Envelope.decode(data)
            if env.seq != stored_seq:
                raise IntegrityError(f"the row stored as seq {stored_seq} holds seq {env.seq}")
            if env.device_id != device_id:
                raise IntegrityError(f"seq {stored_seq} claims device {env.device_id}")
            if env.prev_hash != prev_hash:
                raise IntegrityError(f"seq {stored_seq} does not link to seq {prev_seq}")
            env.verify_signature(public_key)
        except IntegrityError as exc:
            return VerifyReport(checked, prev_seq, stored_seq, str(exc))
        prev_seq, prev_hash = env.seq, env.hash
        checked += 1
    if prev_seq != head_seq:
        return VerifyReport(
            checked,
            prev_seq,
            prev_seq + 1,
            f"log ends at seq {prev_seq} but the head is {head_seq}",
        )
    if head_hash and prev_hash != head_hash:
        return VerifyReport(
            checked, prev_seq, prev_seq, f"seq {prev_seq} does not match the recorded chain head"
        )
    return VerifyReport(checked, prev_seq, None, None)
