"""Reading a feed from a server that does not have its stream (yet): a hub still starting."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from nats.aio.msg import Msg
from support.nats import NatsServer

from edge_agent.app.feed import follow_feed, read_feed, stream_info
from sync_core.errors import SyncError
from sync_core.transport import ConnectOptions, connected


async def test_a_missing_stream_is_none_not_an_error(nats_server: NatsServer) -> None:
    """The stream's info is None when the server has no such stream, and read_feed reads
    nothing from it rather than failing."""
    taken: list[Msg] = []
    saved: list[int] = []
    async with connected(ConnectOptions.for_url(nats_server.url, name="t")) as link:
        js = link.nc.jetstream()
        assert await stream_info(link, js, "NO_SUCH") is None
        await read_feed(
            link, js, "NO_SUCH", "c-t", ">", 0, taken.extend, saved.append, structlog.get_logger()
        )
    assert taken == [] and saved == []


async def test_following_a_missing_stream_waits_for_it(nats_server: NatsServer) -> None:
    """follow_feed on a stream that is not there waits (until stopped) instead of raising."""
    stop = asyncio.Event()
    async with connected(ConnectOptions.for_url(nats_server.url, name="t")) as link:
        js = link.nc.jetstream()
        follower = asyncio.create_task(
            follow_feed(link, js, "NO_SUCH", "c-t", ">", lambda: 0, print, print, stop, 0.1)
        )
        await asyncio.sleep(0.5)  # a few rounds of looking for it
        assert not follower.done()
        stop.set()
        await asyncio.wait_for(follower, 30)


async def test_a_lost_server_is_still_an_error(nats_server: NatsServer) -> None:
    """A server that went away is a link failure, not "no such stream"."""
    async with connected(ConnectOptions.for_url(nats_server.url, name="t")) as link:
        nats_server.kill()
        with pytest.raises(SyncError):
            await stream_info(link, link.nc.jetstream(), "NO_SUCH", 2)
