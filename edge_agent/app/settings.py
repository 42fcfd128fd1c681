"""The replicator's settings: one frozen value, built by the composition root (the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.transport import ConnectOptions


@dataclass(frozen=True, slots=True)
class ReplicatorSettings:
    """How one device replicates.

    ``connection``: the NATS server and the device's credentials (the replicator names the
    client and sets the device's own inbox prefix). Uploads go in batches of at most
    ``batch_events``, ``max_in_flight`` publishes at a time, each acknowledged within
    ``ack_timeout_s``; a hello is answered within ``hello_timeout_s``. A central whose
    committed seq and ingest position stand still for ``stall_s`` gets a re-send (the wait
    doubling up to ``max_stall_s``). ``run`` checks for new events every ``poll_s``, syncs at
    least every ``refresh_s``, waits up to ``confirm_wait_s`` for the central's commit per
    cycle, backs off up to ``backoff_cap_s`` on failures and, after a drop, retries its
    connect every ``reconnect_wait_s`` for up to ``connect_timeout_s``. Once the central is
    trusted, ``head_start_events`` go out alongside the hello (about one bandwidth-delay
    product of a satellite link).

    ``hub``: the cooperative's hub on the LAN (:mod:`edge_agent.app.lan`), tried first at every
    connect (for up to ``hub_connect_s``); the province (``connection``) when it does not
    answer, while the hub is tried again every ``hub_retry_s`` (the device goes back to it as
    soon as it answers). Through the hub, siblings' events are exchanged every ``lan_poll_s``.
    """

    connection: ConnectOptions
    batch_events: int = 500
    max_in_flight: int = 8
    ack_timeout_s: float = 10.0
    hello_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    stall_s: float = 10.0
    max_stall_s: float = 120.0
    poll_s: float = 0.2
    refresh_s: float = 10.0
    confirm_wait_s: float = 2.0
    backoff_cap_s: float = 3.0
    reconnect_wait_s: float = 0.1
    head_start_events: int = 500
    hub: ConnectOptions | None = None
    hub_connect_s: float = 2.0
    hub_retry_s: float = 10.0
    lan_poll_s: float = 0.05
