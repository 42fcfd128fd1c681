"""A cooperative's hub: the on-site nats-server its devices share through (``kopsync edge hub``).

The hub is a real nats-server, configured here and started by the command line:

- a **leaf node** of the province (``leafnodes.remotes``: the province's leafnode URL, the
  hub's leaf credential, TLS with a pinned CA to a ``tls://`` province), so devices on the
  LAN reach the province through it whenever the satellite is up;
- **JetStream with its own domain** (``hub-{coop}``), holding one stream, KOP_LAN: the
  devices' own events (``kop.lan.{coop}.>``) and, **sourced across the leaf** from the
  province's KOP_EVENTS, the cooperative's committed events (``kop.ev.{p}.{r}.{coop}.>``),
  read once over the satellite for all the devices on the LAN;
- with ``kopsync admin hub``'s users file, a client port that only the cooperative's devices
  may use, each with its own nkey and permissions, over TLS when given certificates
  (:mod:`edge_agent.app.hubauth`).

Nothing here is a system of record: the devices keep their events until the central has
committed them (:mod:`edge_agent.app.lan`), so a hub that dies or loses its store costs a
re-send over the LAN, nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)

from edge_agent.app.hubauth import LAN_ACCOUNT, LocalUser, lan_accounts, lan_tls, province_tls
from sync_core import subjects
from sync_core.protocol import (
    DEVICE_JS_API,
    EVENTS_STREAM,
    LAN_STREAM,
    PROVINCE_DOMAIN,
    hub_deliver_prefix,
    hub_domain,
)
from sync_core.transport.streams import put_stream

DAY_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class HubSettings:
    """One hub: its cooperative, where it listens, where its files go, how it reaches the
    province. ``leaf_nkey``: the hub's leaf credential (``kopsync admin hub add``);
    ``leaf_ca``/``leaf_cert``/``leaf_key``: TLS to the province's leafnode port;
    ``lan_users``: the devices allowed on the client port (:mod:`edge_agent.app.hubauth`),
    ``lan_cert``/``lan_key``: TLS on it."""

    coop_id: str
    province_leaf: tuple[str, ...]
    directory: Path
    host: str = "0.0.0.0"
    port: int = 4222
    monitor_port: int | None = None
    leaf_nkey: Path | None = None
    leaf_ca: Path | None = None
    leaf_cert: Path | None = None
    leaf_key: Path | None = None
    lan_users: Path | None = None
    lan_cert: Path | None = None
    lan_key: Path | None = None
    province_domain: str = PROVINCE_DOMAIN
    reconnect_s: int = 1
    max_store_bytes: int = 4 * 1024**3
    retention_days: float = 30.0

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        scheme = "tls" if self.lan_cert is not None else "nats"
        return f"{scheme}://{host}:{self.port}"

    @property
    def secured(self) -> bool:
        """The province knows the hub by a credential: its two accounts (deploy/nats/auth),
        where the hub reaches the central's JetStream as the devices do."""
        return self.leaf_nkey is not None


def render_config(
    s: HubSettings,
    leaf_seed: str | None = None,
    lan_users: list[dict[str, object]] | None = None,
    local: LocalUser | None = None,
) -> str:
    """The nats-server configuration of the hub (JSON is valid nats-server config syntax).

    ``leaf_seed``: the hub's leaf credential (read from ``leaf_nkey`` by the caller); the
    file written from this text must be private (mode 0600). ``lan_users`` (read from
    ``lan_users``) with the hub's ``local`` user: the client port requires credentials."""
    remote: dict[str, object] = {"urls": list(s.province_leaf)}
    if leaf_seed is not None:
        remote["nkey"] = leaf_seed
    if province_tls(s.province_leaf, s.leaf_ca) or s.leaf_cert:
        tls: dict[str, object] = {}
        if s.leaf_ca:
            tls["ca_file"] = str(s.leaf_ca.resolve())
        if s.leaf_cert and s.leaf_key:
            tls["cert_file"] = str(s.leaf_cert.resolve())
            tls["key_file"] = str(s.leaf_key.resolve())
        tls["timeout"] = 5  # a handshake over a satellite round trip
        remote["tls"] = tls
    config: dict[str, object] = {
        "server_name": hub_domain(s.coop_id),
        "host": s.host,
        "port": s.port,
        "jetstream": {
            "domain": hub_domain(s.coop_id),
            "store_dir": str((s.directory / "jetstream").resolve()),
            "max_file_store": s.max_store_bytes,
        },
        "leafnodes": {"remotes": [remote], "reconnect": f"{s.reconnect_s}s"},
        "pid_file": str((s.directory / "hub.pid").resolve()),
    }
    if lan_users is not None:
        if local is None:
            raise ValueError("LAN users need the hub's own user beside them")
        config["accounts"] = lan_accounts(lan_users, local)
        remote["account"] = LAN_ACCOUNT
    if s.lan_cert is not None and s.lan_key is not None:
        config["tls"] = lan_tls(s.lan_cert, s.lan_key)
    if s.monitor_port is not None:
        config["http_port"] = s.monitor_port
    return json.dumps(config, indent=2) + "\n"


def lan_stream_config(s: HubSettings) -> StreamConfig:
    """KOP_LAN: the devices' events on the LAN, and their committed events sourced from the
    province (docs/PROTOCOL.md)."""
    if s.secured:  # through the devices' account: the import, and the hub's deliver prefix
        external = ExternalStream(api=DEVICE_JS_API, deliver=hub_deliver_prefix(s.coop_id))
    else:
        external = ExternalStream(api=f"$JS.{s.province_domain}.API")
    province = StreamSource(
        name=EVENTS_STREAM, filter_subject=subjects.coop_events(s.coop_id), external=external
    )
    return StreamConfig(
        name=LAN_STREAM,
        subjects=[subjects.lan_wildcard(s.coop_id)],
        sources=[province],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=s.retention_days * DAY_S,
        max_bytes=s.max_store_bytes // 2,
        duplicate_window=120.0,
    )


async def ensure_lan_stream(js: JetStreamContext, s: HubSettings) -> None:
    """Create KOP_LAN on the hub, or bring it up to date."""
    await put_stream(js, lan_stream_config(s))
