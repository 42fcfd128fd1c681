"""Who may publish and subscribe what: the permissions of every kind of NATS user (pure).

One account (the server's global one, with JetStream); every client is an nkey user whose
permissions are allow-lists, so anything not named here is denied.

**Device** ``{device}`` of cooperative ``{coop}``:

- publish ``kop.up.{coop}.{device}`` (its uploads, stored by KOP_INGEST) and
  ``kop.hello.{coop}.{device}`` (the handshake request);
- the JetStream API for its downlink, each subject naming stream ``KOP_DOWN`` and the one
  consumer name ``down-{device}`` (:func:`sync_core.protocol.downlink_consumer_name`):

  - ``$JS.API.STREAM.INFO.KOP_DOWN``: the stream's first/last sequence, to know whether there
    is anything to read. It shows totals (and, if asked, message counts per subject, i.e. per
    cooperative), never a message.
  - ``$JS.API.CONSUMER.CREATE.KOP_DOWN.down-{device}.kop.down.{coop}``: the server refuses a
    request whose configured filter differs from the filter in the subject, so the device can
    only make a consumer that reads its own cooperative's downlink.
  - ``$JS.API.CONSUMER.MSG.NEXT.KOP_DOWN.down-{device}``, ``…INFO…`` and ``…DELETE…``: fetch
    from, look at and remove that consumer only.
  - ``$JS.ACK.KOP_DOWN.down-{device}.>``: acknowledgements on it (the edge reads without acks
    today; allowed so that an ack policy can change without a new credential).

  Not granted: stream and consumer lists, other streams, direct ``MSG.GET`` (which would read
  any subject of the stream), purges, deletes, updates, account info.
- subscribe only ``_INBOX_{device}.>``: replies to its requests, JetStream publish acks and
  pulled messages all arrive there, so it reads nothing addressed to another connection.

**Partner** ``{id}``: the JetStream API on its stream ``KOP_PARTNER_{ID}`` only (info, consumers
of any kind, fetch, ack, flow control of ordered consumers), and subscribe ``_PINBOX.{id}.>``
plus its own topics ``kop.partner.{id}.>``. No other publish at all: no ``kop.*`` subject, no
other stream, no stream list.

**Central** (ingest, outbox publisher, hello responder, partner fan-out, ``central issue``):
publish every ``kop.*`` subject except device uploads, the whole JetStream API, and replies to
requests it received (``allow_responses``: the hello replies go to the devices' inboxes);
subscribe ``kop.>`` and ``_INBOX.>`` (its own inbox prefix; no device or partner may use it).

What permissions cannot stop, and what does:

- A request's *reply subject* is not checked by the server. A device can ask the JetStream API
  (or the central's hello) to answer on, say, another device's upload subject, and a stream
  that captures that subject stores the answer. The device chooses where, not what: the bytes
  are server JSON, the central's hello reply or its own cooperative's signed downlink. Ingest
  quarantines them (``undecodable``) and a device refuses a downlink message that is not
  signed for its cooperative. Separate accounts would remove this (the reply is then mapped to
  an ``_R_`` subject), but the JetStream API does not cross accounts for consumer creation,
  which the edge's resumable downlink needs; see ``deploy/nats/auth/README.md``.
- A consumer's deliver subject (push mode) is chosen by its creator too. The server only
  delivers to a subject that someone holds a literal subscription on, and only messages of
  the consumer's own filter, so a device can route nothing but its own cooperative's downlink.
- Every upload is still verified against the registered device key and cooperative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync_core import protocol, subjects
from sync_core.errors import InvalidId
from sync_core.ids import check_coop_id, check_device_id
from sync_core.protocol import (
    CENTRAL_INBOX_PREFIX,
    DOWN_STREAM,
    device_inbox_prefix,
    downlink_consumer_name,
    partner_inbox_prefix,
)

JS_API = "$JS.API"

# The rule of central_projector.partners.config (lower-case, so upper-casing gives the stream).
_PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}\Z")


@dataclass(frozen=True, slots=True)
class Permissions:
    """One user's permissions, as nats-server's ``permissions`` map takes them."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    allow_responses: bool = False


def check_partner_id(partner_id: str) -> str:
    if not isinstance(partner_id, str) or not _PARTNER_ID.match(partner_id):
        raise InvalidId(
            f"partner id {partner_id!r} must be lower-case letters, digits, '-' or '_' "
            "(at most 32, starting with a letter or digit), as in the partners file"
        )
    return partner_id


def partner_stream(partner_id: str) -> str:
    return protocol.partner_stream(check_partner_id(partner_id))


def partner_subjects(partner_id: str) -> str:
    return f"kop.partner.{check_partner_id(partner_id)}.>"


def device_permissions(coop_id: str, device_id: str) -> Permissions:
    """Publish its uploads, hello and its own downlink consumer's API; read its inbox."""
    check_coop_id(coop_id)
    check_device_id(device_id)
    consumer = downlink_consumer_name(device_id)
    on_consumer = f"{DOWN_STREAM}.{consumer}"
    return Permissions(
        publish=(
            subjects.upload(coop_id, device_id),
            subjects.hello(coop_id, device_id),
            f"{JS_API}.STREAM.INFO.{DOWN_STREAM}",
            f"{JS_API}.CONSUMER.CREATE.{on_consumer}.{subjects.downlink(coop_id)}",
            f"{JS_API}.CONSUMER.MSG.NEXT.{on_consumer}",
            f"{JS_API}.CONSUMER.INFO.{on_consumer}",
            f"{JS_API}.CONSUMER.DELETE.{on_consumer}",
            f"$JS.ACK.{on_consumer}.>",
        ),
        subscribe=(f"{device_inbox_prefix(device_id)}.>",),
    )


def partner_permissions(partner_id: str) -> Permissions:
    """Consume its own partner stream in any way; publish nothing else; read its inbox."""
    stream = partner_stream(partner_id)
    return Permissions(
        publish=(
            f"{JS_API}.STREAM.INFO.{stream}",
            # Ephemeral consumers without a name (nats-py's ordered consumer) and with one.
            f"{JS_API}.CONSUMER.CREATE.{stream}",
            f"{JS_API}.CONSUMER.CREATE.{stream}.>",
            f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.*",
            f"{JS_API}.CONSUMER.INFO.{stream}.*",
            f"{JS_API}.CONSUMER.DELETE.{stream}.*",
            f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
            f"$JS.FC.{stream}.>",
        ),
        subscribe=(f"{partner_inbox_prefix(partner_id)}.>", partner_subjects(partner_id)),
    )


def central_permissions() -> Permissions:
    """Everything kopsync's central services do; never a device's upload."""
    return Permissions(
        publish=("kop.>", f"{JS_API}.>", "$JS.ACK.>", "$JS.FC.>"),
        publish_deny=(subjects.upload_wildcard(),),
        subscribe=("kop.>", f"{CENTRAL_INBOX_PREFIX}.>"),
        allow_responses=True,
    )
