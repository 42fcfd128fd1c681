"""JSON answers, encoded by one encoder made once (Starlette's ``JSONResponse`` makes an
encoder for every answer): compact, UTF-8, no NaN or infinity (money is whole rupiah)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class Json(Response):
    """A JSON response; ``media_type`` may name a JSON type of its own (problem details)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode()
