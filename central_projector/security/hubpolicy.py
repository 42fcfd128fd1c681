"""What a cooperative's hub may do: its leaf node's permissions on the province, and its
devices' permissions on the hub itself (pure).

**The hub's leaf credential** (user of account ``DEVICES`` on the province, one per
cooperative ``{coop}``). A leaf node's messages cross into the province as a client's would,
so the user's permissions are what the hub may send (publish) and receive (subscribe):

- publish what each of the cooperative's devices may publish on the province
  (:func:`~central_projector.security.policy.device_permissions`: uploads, hello, its downlink
  and sibling consumers), since the devices on the LAN talk to the province through the hub
  exactly as they would directly (the JetStream API under ``KOP.JS.API``);
- source the cooperative's committed events into its KOP_LAN: create a consumer on
  ``KOP_EVENTS`` only with the filter ``kop.ev.{prov}.{regency}.{coop}.>`` (any name: the
  server names its sourcing consumers ``JS_SRC_…``), and answer its flow control
  (``$JS.FC.KOP_EVENTS.>``); no consumer delete (the sourcing consumers expire when idle);
- subscribe the inboxes of the cooperative's devices (``_INBOX_{device}.>``), the deliveries
  of its sourcing consumer (``KOP.HUB.{coop}.>``, exported by the central account as a
  stream) and the answers to its consumer creates (``$JSC.R.>``, the server's own reply
  subjects).

The list follows the registry: adding or revoking a device of the cooperative changes its
hub's permissions at the next render and reload, with no new hub credential.

**On the hub** each device of the cooperative is a user with its own nkey (the one it has
for the province) in the hub's account ``LAN``: it may publish what it may publish on the
province, its own events ``kop.lan.{coop}.{device}`` and the JetStream API of KOP_LAN for its
consumer ``lan-{device}``; it subscribes only its inbox. The hub writes these users into its
configuration from the file ``kopsync admin hub`` gives it (:func:`lan_users`).

What this does not stop: a hub's consumer may name any deliver subject, so a hub could send
its own cooperative's committed events towards another hub's prefix (nobody receives them
unless that hub subscribed that exact subject); ``$JSC.R.>`` lets a hub read the answers to
other hubs' consumer creates (consumer configuration, no event). On the hub, a request's
reply subject is not checked, so a device could have the hub's JetStream answer into
KOP_LAN: a sibling refuses what its key did not sign (``bad_signature``).
"""

from __future__ import annotations

from typing import Any

from central_projector.security.policy import JS_API, Permissions, device_permissions
from sync_core import subjects
from sync_core.ids import check_coop_id
from sync_core.protocol import (
    DEVICE_JS_API,
    EVENTS_STREAM,
    LAN_STREAM,
    device_inbox_prefix,
    hub_deliver_prefix,
    lan_consumer_name,
)

LAN_USERS_FORMAT = 1


def hub_permissions(coop_id: str, device_ids: list[str]) -> Permissions:
    """The leaf credential of ``coop_id``'s hub, for its devices ``device_ids``."""
    check_coop_id(coop_id)
    publish: list[str] = []
    for device_id in device_ids:
        publish += [s for s in device_permissions(coop_id, device_id).publish if s not in publish]
    publish += [
        f"{DEVICE_JS_API}.CONSUMER.CREATE.{EVENTS_STREAM}.*.{subjects.coop_events(coop_id)}",
        f"$JS.FC.{EVENTS_STREAM}.>",
    ]
    subscribe = [f"{device_inbox_prefix(d)}.>" for d in device_ids]
    subscribe += [f"{hub_deliver_prefix(coop_id)}.>", "$JSC.R.>"]
    return Permissions(publish=tuple(publish), subscribe=tuple(subscribe))


def lan_permissions(coop_id: str, device_id: str) -> Permissions:
    """A device on its cooperative's hub: what it may do on the province, and KOP_LAN."""
    consumer = f"{LAN_STREAM}.{lan_consumer_name(device_id)}"
    on_province = device_permissions(coop_id, device_id)
    return Permissions(
        publish=(
            *on_province.publish,
            subjects.lan(coop_id, device_id),
            f"{JS_API}.STREAM.INFO.{LAN_STREAM}",
            f"{JS_API}.CONSUMER.CREATE.{consumer}",
            f"{JS_API}.CONSUMER.CREATE.{consumer}.>",
            f"{JS_API}.CONSUMER.MSG.NEXT.{consumer}",
            f"{JS_API}.CONSUMER.INFO.{consumer}",
            f"{JS_API}.CONSUMER.DELETE.{consumer}",
            f"$JS.ACK.{consumer}.>",
        ),
        subscribe=on_province.subscribe,
    )


def lan_users(coop_id: str, devices: list[tuple[str, str]]) -> dict[str, Any]:
    """The file a hub makes its LAN users from: each device's public nkey and permissions
    (``devices``: ``(device_id, nkey)``). Public keys only: it holds no secret."""
    users = []
    for device_id, nkey in devices:
        perms = lan_permissions(coop_id, device_id)
        users.append(
            {
                "device_id": device_id,
                "nkey": nkey,
                "permissions": {
                    "publish": {"allow": list(perms.publish)},
                    "subscribe": {"allow": list(perms.subscribe)},
                },
            }
        )
    return {"version": LAN_USERS_FORMAT, "coop_id": check_coop_id(coop_id), "users": users}
