"""The one error tree of kopsync.

Every error a user or a peer can cause derives from :class:`KopsyncError`, and
each carries a message that says what was wrong and what to do. Library errors
(sqlite3, SQLAlchemy, nats) are translated at the adapter boundary with
``raise Ours(...) from exc``.

::

    KopsyncError
    ├── UsageError (ValueError)              the caller broke the rules
    │   ├── InvalidId                        an id is not a valid subject token
    │   ├── ValidationError                  a payload does not match its schema
    │   ├── UnknownEventType (LookupError)   no schema for (type, version)
    │   ├── IdempotencyKeyReused             one idempotency key sent with another request
    │   └── UnknownItem (LookupError)        no such conflict, cooperative or operator
    ├── NotAuthorised (PermissionError)      the operator may not act on that region
    ├── RuleViolation                        a local business rule refused a command
    ├── IntegrityError                       a peer or the disk broke the rules
    │   ├── DecodeError                      bytes are not a canonical envelope
    │   ├── SignatureInvalid                 Ed25519 signature does not verify
    │   ├── CentralKeyChanged                the central's key differs from the pinned one
    │   ├── ChainBroken                      prev_hash or seq does not link
    │   └── StoreTampered                    the device's store was changed outside kopsync
    ├── StoreError                           local store cannot be used
    │   ├── StoreExists (FileExistsError)
    │   ├── StoreNotFound (FileNotFoundError)
    │   ├── StoreUnsafe                      durability pragmas not in force
    │   ├── StoreNotMigrated                 the central database is not at this code's schema
    │   ├── StoreUnavailable (ConnectionError) the database is unreachable or locked: retry
    │   └── StoreFull (OSError)              the disk is full; nothing was recorded
    └── SyncError                            transport trouble
        ├── SyncTimeout (TimeoutError)
        └── LinkDown (ConnectionError)
"""

from __future__ import annotations


class KopsyncError(Exception):
    """Base of every kopsync error."""


class UsageError(KopsyncError, ValueError):
    """The caller gave input that breaks a documented rule."""


class InvalidId(UsageError):
    """An identifier is empty, too long or contains a character NATS subjects forbid."""


class ValidationError(UsageError):
    """A payload does not match its event schema; ``field`` names the offending field."""

    def __init__(self, event_type: str, field: str, problem: str) -> None:
        self.event_type = event_type
        self.field = field
        self.problem = problem
        super().__init__(f"{event_type}: field '{field}' {problem}")


class UnknownEventType(UsageError, LookupError):
    """No schema is registered for an event type or version."""


class IdempotencyKeyReused(UsageError):
    """An idempotency key that already answered one request came with a different one."""


class UnknownItem(UsageError, LookupError):
    """The conflict, cooperative or operator named does not exist."""


class NotAuthorised(KopsyncError, PermissionError):
    """The operator is not authorised for the region of what they asked to change."""


class RuleViolation(KopsyncError):
    """A local business rule refused a command; nothing was recorded."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


class IntegrityError(KopsyncError):
    """Stored or received data fails verification."""


class DecodeError(IntegrityError):
    """Bytes could not be decoded into a well-formed envelope."""


class SignatureInvalid(IntegrityError):
    """An Ed25519 signature does not verify for the claimed device key."""


class CentralKeyChanged(IntegrityError):
    """The central presented an issuer key other than the one pinned on first contact."""


class ChainBroken(IntegrityError):
    """A device's hash chain or sequence does not link."""

    def __init__(self, seq: int, message: str) -> None:
        self.seq = seq
        super().__init__(message)


class StoreTampered(IntegrityError):
    """The device's store differs from its seal: it was changed outside kopsync."""


class StoreError(KopsyncError):
    """The local store cannot be used."""


class StoreExists(StoreError, FileExistsError):
    """A store is already initialised at this place."""


class StoreNotFound(StoreError, FileNotFoundError):
    """No store is initialised at this place."""


class StoreUnsafe(StoreError):
    """The store's durability settings are not in force; refusing to run."""


class StoreNotMigrated(StoreError):
    """The central database's schema is not the one this code needs (run the migrations)."""


class StoreUnavailable(StoreError, ConnectionError):
    """The database server cannot be reached, or the store is locked; retrying may work."""


class StoreFull(StoreError, OSError):
    """The disk is full; the command was not recorded."""


class SyncError(KopsyncError):
    """Transport trouble between an edge and the central."""


class SyncTimeout(SyncError, TimeoutError):
    """A transport operation did not finish in time."""


class LinkDown(SyncError, ConnectionError):
    """The server cannot be reached."""
