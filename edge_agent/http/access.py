"""Who may call the agent: loopback by default, a device-local token beyond it.

Bound to loopback, the agent answers only requests addressed to a loopback name (a web
page elsewhere cannot reach it by pointing a DNS name at 127.0.0.1). Bound to a LAN
address, every API request must carry ``Authorization: Bearer TOKEN`` with the token
``kopsync edge init`` showed (see :mod:`edge_agent.app.token`). The teller page's static
files and the health probes are open: they hold no data.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from edge_agent.app.token import matches
from edge_agent.http.problems import Problem
from edge_agent.http.requests import header

GUARDED = ("/v1/", "/openapi.json")
LOOPBACK_NAMES = ("localhost",)


@functools.lru_cache(maxsize=64)  # asked on every request, of the same few Host names
def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is loopback."""
    host = host.strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(header: str) -> str:
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: the Host check on loopback binds, the token on the others."""

    def __init__(self, app: ASGIApp, *, token_digest: bytes | None, loopback: bool) -> None:
        if not loopback and token_digest is None:
            raise ValueError("a bind beyond loopback needs the device's access token")
        self.app = app
        self.token_digest = token_digest
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal.response(scope["path"])(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> Problem | None:
        if self.loopback:
            host = _host_of(header(scope, b"host") or "")
            if not is_loopback(host):
                return Problem(
                    421,
                    "forbidden_host",
                    f"this agent listens on loopback and answers only as localhost, not {host!r}",
                )
            return None
        if not scope["path"].startswith(GUARDED):
            return None
        scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
        assert self.token_digest is not None
        if scheme.lower() == "bearer" and matches(self.token_digest, token.strip()):
            return None
        return Problem(
            401,
            "unauthorized",
            "send the device's access token as `Authorization: Bearer TOKEN` (shown once by "
            "`kopsync edge init`; `kopsync edge token` makes a new one)",
            headers={"WWW-Authenticate": 'Bearer realm="kopsync-edge"'},
        )
