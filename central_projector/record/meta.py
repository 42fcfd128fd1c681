"""The store's own settings (``central_meta``): made once, read by every process of the store.

``pseudonym_key`` is the province's key for pseudonyms in the read models: a conflict
about a person (the same NIK at two cooperatives) is named by the keyed HMAC of the NIK,
never by the NIK, so conflict ids, subjects and log lines carry no personal number in
clear (UU PDP). It lives with the events, so every projector and every replay of the
same store names the same case the same way, and a decision taken on it keeps applying.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import sqlalchemy as sa

from central_projector.record.tables import central_meta

PSEUDONYM_KEY = "pseudonym_key"


def ensure_meta(read: sa.Engine, write: sa.Engine, key: str, make: Callable[[], bytes]) -> None:
    """Create a central_meta row once; a concurrent first start may win the race."""
    with read.connect() as conn:
        found = conn.execute(sa.select(central_meta.c.key).where(central_meta.c.key == key)).first()
    if found is not None:
        return
    try:
        with write.begin() as conn:
            conn.execute(sa.insert(central_meta).values(key=key, value=make()))
    except sa.exc.IntegrityError:
        pass  # another process created it first: theirs is the one


def ensure_pseudonym_key(engine: sa.Engine) -> bytes:
    """The store's pseudonym key, made now if the store has none yet."""
    read = engine.execution_options(kopsync_read=True)
    ensure_meta(read, engine, PSEUDONYM_KEY, lambda: os.urandom(32))
    with read.connect() as conn:
        value = conn.execute(
            sa.select(central_meta.c.value).where(central_meta.c.key == PSEUDONYM_KEY)
        ).scalar_one()
    return bytes(value)
