"""Reading a request: its JSON body, its idempotency key, its query parameters.

Recording is the path a counter takes most, so its headers are read from the request's
raw list and its body straight from the server, with a JSON decoder made once: no
header mapping, URL or stream object made per request.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Scope

from edge_agent.adapters.idempotency import Once
from edge_agent.http.problems import problem
from sync_core.errors import ValidationError

MAX_BODY = 256 * 1024  # the largest payload the store accepts is 64 KiB of msgpack
MAX_KEY = 255


def header(scope: Scope, name: bytes) -> str | None:
    """The request's header ``name`` (lower case), its first value; None when absent."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


async def json_body(request: Request) -> Any:
    """The request's JSON body: 415 unless it says JSON, 413 past MAX_BODY, 400 if malformed."""
    kind = (header(request.scope, b"content-type") or "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise problem(415, "unsupported_media_type", "send the body as application/json")
    data = b""
    more = True
    while more:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        data += message.get("body", b"")
        more = message.get("more_body", False)
        if len(data) > MAX_BODY:
            raise problem(413, "payload_too_large", f"the body is over {MAX_BODY} bytes")
    try:
        return _DECODER.decode(data.decode("utf-8-sig"))  # JSON over HTTP is UTF-8
    except (ValueError, UnicodeDecodeError) as exc:
        raise problem(400, "malformed_json", f"the body is not valid JSON ({exc})") from None


def once(request: Request, body: Any) -> Once | None:
    """The request's ``Idempotency-Key`` (bare or as a quoted string), with a digest of the
    request it came with; None when the header is absent."""
    raw = header(request.scope, b"idempotency-key")
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 0 < len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise problem(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters",
        )
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    request_id = f"{request.method} {request.scope['path']}\n{canonical}".encode()
    return Once(key, hashlib.sha256(request_id).digest())


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within ``lo``..``hi``."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise ValidationError("query", name, f"must be a whole number from {lo} to {hi}")
    return value
