"""Errors as RFC 9457 problem details, one stable code per failure.

The error tree of :mod:`sync_core.errors` maps to a status and a code here, and nowhere
else; a handler raises, this module answers. The ``type`` of every problem is
``urn:kopsync:problem:{code}``; ``code`` repeats it as a plain member so that a client
can switch on it. A refusal by a business rule carries the rule's own code
(``RuleViolation.rule``: ``insufficient_balance``, ``allowance_exhausted``,
``card_blocked``, …), so a new rule needs no change here.

====================================  ======  ===========================================
error                                  status  code
====================================  ======  ===========================================
ValidationError                        400     ``invalid_field`` (``field`` names it)
InvalidId                              400     ``invalid_id``
UnknownEventType                       404     ``unknown_event_type``
IdempotencyKeyReused                   422     ``idempotency_key_reused``
other UsageError                       400     ``bad_request``
RuleViolation                          409     the rule's code
StoreFull                              503     ``store_full`` (Retry-After)
StoreUnsafe                            503     ``store_unsafe``
other StoreError (busy, damaged)       503     ``store_unavailable`` (Retry-After)
IntegrityError                         503     ``store_not_trusted``
anything else                          500     ``internal`` (a bug: logged, never user input)
====================================  ======  ===========================================

Request-level problems (``malformed_json``, ``unsupported_media_type``, ``payload_too_large``,
``unauthorized``, ``forbidden_host``, ``not_found``, ``method_not_allowed``,
``not_ready``, ``invalid_idempotency_key``) are made where they are detected, with
:func:`problem`.
"""

from __future__ import annotations

from typing import Any

from edge_agent.http.answers import Json
from sync_core.errors import (
    IdempotencyKeyReused,
    IntegrityError,
    InvalidId,
    KopsyncError,
    RuleViolation,
    StoreError,
    StoreFull,
    StoreUnsafe,
    UnknownEventType,
    UsageError,
    ValidationError,
)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:kopsync:problem:"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused by a business rule",
    413: "Payload too large",
    415: "Unsupported media type",
    421: "Misdirected request",
    422: "Unprocessable request",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """A problem to answer with: status, stable code, what happened, members to add.

    Raised by a handler (or made from a kopsync error by :func:`problem_for`) and turned
    into the response by the app's error handling.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.code,
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "instance": instance,
            **self.extra,
        }

    def response(self, instance: str) -> Json:
        return Json(self.body(instance), self.status, headers=self.headers, media_type=MEDIA_TYPE)


def problem(status: int, code: str, detail: str, **extra: Any) -> Problem:
    return Problem(status, code, detail, extra)


def problem_for(exc: KopsyncError) -> Problem:
    """The problem that answers a kopsync error."""
    detail = str(exc)
    if isinstance(exc, ValidationError):
        return problem(400, "invalid_field", detail, field=exc.field, event_type=exc.event_type)
    if isinstance(exc, InvalidId):
        return problem(400, "invalid_id", detail)
    if isinstance(exc, UnknownEventType):
        return problem(404, "unknown_event_type", detail)
    if isinstance(exc, IdempotencyKeyReused):
        return problem(422, "idempotency_key_reused", detail)
    if isinstance(exc, UsageError):
        return problem(400, "bad_request", detail)
    if isinstance(exc, RuleViolation):
        return problem(409, exc.rule, detail, rule=exc.rule)
    if isinstance(exc, StoreFull):
        return Problem(503, "store_full", detail, headers={"Retry-After": "60"})
    if isinstance(exc, StoreUnsafe):
        return problem(503, "store_unsafe", detail)
    if isinstance(exc, StoreError):
        return Problem(503, "store_unavailable", detail, headers={"Retry-After": "1"})
    if isinstance(exc, IntegrityError):
        return problem(503, "store_not_trusted", detail)
    return problem(503, "unavailable", detail)
