"""Protocol names both sides of the link share: inbox prefixes and consumer names.

The NATS server's permissions (written by :mod:`central_projector.security.policy`) allow a
client to subscribe only under its own inbox prefix and to use only its own downlink
consumer; the clients (edge, partner) use the same functions to connect, so the two cannot
drift. Pure: names only.
"""

from __future__ import annotations

from sync_core.ids import check_device_id

# Device prefixes are "_INBOX_" + device id, partner prefixes "_PINBOX." + partner id and the
# central keeps nats-py's "_INBOX": none of the three can be spelled as another, whatever the
# ids are (ids never contain '.', and no device prefix is a bare "_INBOX" or starts "_PINBOX").
CENTRAL_INBOX_PREFIX = "_INBOX"
PARTNER_INBOX_ROOT = "_PINBOX"


def device_inbox_prefix(device_id: str) -> str:
    """The only subject prefix a device may subscribe under (its replies arrive there)."""
    return f"_INBOX_{check_device_id(device_id)}"


def partner_inbox_prefix(partner_id: str) -> str:
    """The only inbox prefix a partner may subscribe under."""
    return f"{PARTNER_INBOX_ROOT}.{partner_id}"


def downlink_consumer_name(device_id: str) -> str:
    """The one consumer name on KOP_DOWN a device may create, read and delete.

    A fixed name per device lets the server's permissions name the consumer literally, so a
    device can neither pull from another device's consumer nor create more than one.
    """
    return f"down-{check_device_id(device_id)}"
