"""Exclusive ownership of a partition: leases with fencing tokens in the central store.

A lease row ``(name, owner, token, expires_at)`` lives beside the data it guards. A
worker *acquires* a free or expired lease by compare-and-set on its token (the token
goes up by one at every change of owner) and then *fences* every write transaction:
the first statement of the transaction renews the lease only if the same owner still
holds the same token and it has not expired. If the fence fails, the transaction is
rolled back before anything is written, so a worker that paused past its expiry (GC,
SIGSTOP, a slow disk) and lost the lease to another cannot apply anything afterwards.

On PostgreSQL the fence's ``UPDATE`` keeps the lease row locked until the commit, so a
competitor's takeover waits for the transaction and then finds the lease renewed; on
SQLite writers are serial anyway. Expiry compares the workers' wall clocks (keep them
in NTP sync): a skewed clock can only delay or hasten a takeover, never let two
transactions of one partition commit under different owners.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from sync_core.errors import StoreError

metadata = sa.MetaData()
leases = sa.Table(
    "kop_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)


class LeaseLost(StoreError):
    """The lease is no longer ours: the transaction it fenced must not commit."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def acquire(engine: sa.Engine, name: str, owner: str, ttl_ms: int, now: int) -> int | None:
    """Take or renew the lease ``name``; its fencing token if ``owner`` holds it now."""
    c = leases.c
    with engine.begin() as conn:
        row = conn.execute(sa.select(leases).where(c.name == name)).mappings().first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(leases).values(
                            name=name, owner=owner, token=1, expires_at=now + ttl_ms
                        )
                    )
            except sa.exc.IntegrityError:
                return None  # another worker created it first
            return 1
        token = int(row["token"])
        if row["owner"] == owner and row["expires_at"] > now:
            done = conn.execute(
                sa.update(leases)
                .where(c.name == name, c.owner == owner, c.token == token)
                .values(expires_at=now + ttl_ms)
            )
            return token if done.rowcount == 1 else None
        if row["expires_at"] > now:
            return None
        taken = conn.execute(
            sa.update(leases)
            .where(c.name == name, c.token == token, c.expires_at <= now)
            .values(owner=owner, token=token + 1, expires_at=now + ttl_ms)
        )
        return token + 1 if taken.rowcount == 1 else None


def fence(conn: sa.Connection, name: str, owner: str, token: int, ttl_ms: int, now: int) -> None:
    """Renew the lease inside the caller's transaction, or raise :class:`LeaseLost`."""
    c = leases.c
    done = conn.execute(
        sa.update(leases)
        .where(c.name == name, c.owner == owner, c.token == token, c.expires_at > now)
        .values(expires_at=now + ttl_ms)
    )
    if done.rowcount != 1:
        raise LeaseLost(f"lease {name} (token {token}) is no longer held by {owner}")


def release(engine: sa.Engine, name: str, owner: str, token: int) -> None:
    """Let the lease go at once (a clean shutdown), so a successor need not wait."""
    c = leases.c
    with engine.begin() as conn:
        conn.execute(
            sa.update(leases)
            .where(c.name == name, c.owner == owner, c.token == token)
            .values(expires_at=0)
        )


def holders(engine: sa.Engine, now: int) -> dict[str, str]:
    """Unexpired leases and their owners."""
    c = leases.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.name, c.owner).where(c.expires_at > now)).all()
    return {str(n): str(o) for n, o in rows}


MEMBER = "member-"


def fair_share(engine: sa.Engine, group: str, owner: str, total: int, ttl_ms: int, now: int) -> int:
    """Announce ``owner`` as alive in ``group`` and return how many of its ``total`` partitions
    it should hold.

    Every worker renews a ``member-{group}-{owner}`` lease; the share is ``ceil(total / live)``,
    so together the live workers cover every partition, and one that joins makes the
    others hand partitions over (each releases what it holds beyond its share).
    """
    prefix = f"{MEMBER}{group}-"
    acquire(engine, prefix + owner, owner, ttl_ms, now)
    live = sum(1 for name in holders(engine, now) if name.startswith(prefix))
    return -(-total // max(live, 1))
