"""JetStream streams made idempotently, the same way by every process that owns one."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError


async def put_stream(js: JetStreamContext, config: StreamConfig) -> str | None:
    """Create the stream, or bring the existing one up to ``config``; returns None, or why
    the server refused to create it (it exists with another configuration) when updated."""
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        await js.update_stream(config)
        return exc.description or "exists"
    return None
