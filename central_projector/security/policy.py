"""Who may publish and subscribe what: the accounts and permissions of every NATS user (pure).

Two accounts. ``KOPSYNC`` (:data:`~sync_core.protocol.CENTRAL_ACCOUNT`) has JetStream and
every stream, the central's user and the partners'. ``DEVICES`` has no JetStream and every
device's user; it reaches the central account only through the services that account
exports (:func:`device_services`): uploads, hello, and the JetStream API of the devices'
downlink consumers (imported under ``KOP.JS.API``, :data:`~sync_core.protocol.DEVICE_JS_API`).
Every client is an nkey user whose permissions are allow-lists, so anything not named here
is denied.

Why two accounts: a request's *reply subject* is chosen by the requester and not checked by
the server, and the answer (the JetStream API's JSON, the messages a pull delivers, the
central's hello reply) is published on it *in the answering account*. In one shared account
a device could have the server write into a stream: another device's upload subject in
KOP_INGEST, another cooperative's downlink in KOP_DOWN. Across a service import the server
replaces the reply subject by a fresh ``_R_…`` subject of the exporting account and routes
the answer back to the requester alone, so nothing a device chooses names a subject in the
account where the streams live (``tests/integration/security/test_device_permissions.py``
tries each).

**Device** ``{device}`` of cooperative ``{coop}`` (account ``DEVICES``):

- publish ``kop.up.{coop}.{device}`` (its uploads, stored by KOP_INGEST) and
  ``kop.hello.{coop}.{device}`` (the handshake request);
- the JetStream API for its downlink, each subject naming stream ``KOP_DOWN`` and the one
  consumer name ``down-{device}`` (:func:`sync_core.protocol.downlink_consumer_name`):

  - ``KOP.JS.API.STREAM.INFO.KOP_DOWN``: the stream's first/last sequence, to know whether
    there is anything to read. It shows totals (and, if asked, message counts per subject,
    i.e. per cooperative), never a message.
  - ``KOP.JS.API.CONSUMER.CREATE.KOP_DOWN.down-{device}.kop.down.{coop}``: the server refuses
    a request whose configured filter differs from the filter in the subject, so the device
    can only make a consumer that reads its own cooperative's downlink.
  - ``KOP.JS.API.CONSUMER.MSG.NEXT.KOP_DOWN.down-{device}``, ``…INFO…`` and ``…DELETE…``:
    fetch from, look at and remove that consumer only.
  - ``$JS.ACK.KOP_DOWN.down-{device}.>``: acknowledgements on it (the edge reads without acks
    today; allowed so that an ack policy can change without a new credential).

- the same for its sibling feed: consumer ``sib-{device}`` on ``KOP_EVENTS`` (imported under
  ``KOP.JS.API`` too), created only with the filter ``kop.ev.{prov}.{regency}.{coop}.>`` (its
  own cooperative's committed events, which it may hold anyway: they are its cooperative's
  business), fetched without acks.

  Not granted (and not imported at all): stream and consumer lists, other streams, direct
  ``MSG.GET`` (which would read any subject of the stream), purges, deletes, updates.
- subscribe only ``_INBOX_{device}.>``: replies to its requests, JetStream publish acks and
  pulled messages all arrive there, so it reads nothing addressed to another connection.

**Partner** ``{id}`` (account ``KOPSYNC``): the JetStream API on its stream
``KOP_PARTNER_{ID}`` only (info, consumers of any kind, fetch, ack, flow control of ordered
consumers), and subscribe ``_PINBOX.{id}.>`` plus its own topics ``kop.partner.{id}.>``. No
other publish at all: no ``kop.*`` subject, no other stream, no stream list.

**Central** (ingest, outbox publisher, hello responder, partner fan-out, ``central issue``):
publish every ``kop.*`` subject except device uploads, the whole JetStream API, and replies to
requests it received (``allow_responses``: the hello replies go back to the devices through
their ``_R_`` subjects); subscribe ``kop.>`` and ``_INBOX.>`` (its own inbox prefix).

What this does not stop:

- A partner shares the central's account, so it could still have its own stream's JetStream
  API answer on a subject of its choosing there; it chooses where, not what (server JSON or
  its own pseudonymised messages), and ingest and the devices refuse what is not signed for
  them. Partners are contracted institutions with one credential each; a partners' account
  would need their push consumers' deliveries exported back, which is the next step.
- A consumer's deliver subject (push mode) is chosen by its creator. The server only
  delivers to a subject that someone holds a literal subscription on, and only messages of
  the consumer's own filter; devices cannot create push consumers in the central account.
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
    DEVICE_JS_API,
    DOWN_STREAM,
    EVENTS_STREAM,
    HUB_DELIVER,
    device_inbox_prefix,
    downlink_consumer_name,
    partner_inbox_prefix,
    sibling_consumer_name,
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


@dataclass(frozen=True, slots=True)
class Service:
    """A subject the central account exports as a service and the devices' account imports.

    ``subject`` as the central account sees it, ``local`` as devices publish it;
    ``streamed``: one request gets many answers (a pull delivers a batch of messages).
    """

    subject: str
    local: str
    streamed: bool = False


def device_services() -> tuple[Service, ...]:
    """What the devices' account reaches in the central's: uploads, hello, the JetStream API
    of the downlink and of the sibling feed, a hub's flow control.

    Wildcards over every device and cooperative: each device's own permissions narrow them
    to its subjects.
    """
    down = DOWN_STREAM

    def api(rest: str, streamed: bool = False) -> Service:
        return Service(f"{JS_API}.{rest}", f"{DEVICE_JS_API}.{rest}", streamed)

    return (
        Service(subjects.upload_wildcard(), subjects.upload_wildcard()),
        Service("kop.hello.>", "kop.hello.>"),
        api(f"STREAM.INFO.{down}"),
        api(f"CONSUMER.CREATE.{down}.>"),
        api(f"CONSUMER.INFO.{down}.*"),
        api(f"CONSUMER.DELETE.{down}.*"),
        api(f"CONSUMER.MSG.NEXT.{down}.*", streamed=True),
        Service(f"$JS.ACK.{down}.>", f"$JS.ACK.{down}.>"),
        # the sibling feed: the cooperative's committed events
        api(f"STREAM.INFO.{EVENTS_STREAM}"),
        api(f"CONSUMER.CREATE.{EVENTS_STREAM}.>"),
        api(f"CONSUMER.INFO.{EVENTS_STREAM}.*"),
        api(f"CONSUMER.DELETE.{EVENTS_STREAM}.*"),
        api(f"CONSUMER.MSG.NEXT.{EVENTS_STREAM}.*", streamed=True),
        # a hub's sourcing consumer on KOP_EVENTS: its flow control (central_projector.
        # security.hubpolicy; only a hub's credential may publish there)
        Service(f"$JS.FC.{EVENTS_STREAM}.>", f"$JS.FC.{EVENTS_STREAM}.>"),
    )


def device_streams() -> tuple[str, ...]:
    """What the central account exports to the devices' account as streams: the deliveries
    of the hubs' sourcing consumers (each hub's credential subscribes its own prefix)."""
    return (f"{HUB_DELIVER}.>",)


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
            f"{DEVICE_JS_API}.STREAM.INFO.{DOWN_STREAM}",
            f"{DEVICE_JS_API}.CONSUMER.CREATE.{on_consumer}.{subjects.downlink(coop_id)}",
            f"{DEVICE_JS_API}.CONSUMER.MSG.NEXT.{on_consumer}",
            f"{DEVICE_JS_API}.CONSUMER.INFO.{on_consumer}",
            f"{DEVICE_JS_API}.CONSUMER.DELETE.{on_consumer}",
            f"$JS.ACK.{on_consumer}.>",
            *_sibling_feed(coop_id, device_id),
        ),
        subscribe=(f"{device_inbox_prefix(device_id)}.>",),
    )


def _sibling_feed(coop_id: str, device_id: str) -> tuple[str, ...]:
    """Its consumer ``sib-{device}`` on KOP_EVENTS, filtered to its own cooperative."""
    on_consumer = f"{EVENTS_STREAM}.{sibling_consumer_name(device_id)}"
    return (
        f"{DEVICE_JS_API}.STREAM.INFO.{EVENTS_STREAM}",
        f"{DEVICE_JS_API}.CONSUMER.CREATE.{on_consumer}.{subjects.coop_events(coop_id)}",
        f"{DEVICE_JS_API}.CONSUMER.MSG.NEXT.{on_consumer}",
        f"{DEVICE_JS_API}.CONSUMER.INFO.{on_consumer}",
        f"{DEVICE_JS_API}.CONSUMER.DELETE.{on_consumer}",
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
