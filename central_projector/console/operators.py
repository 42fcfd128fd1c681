"""Console operators: an id, a name, scrypt-hashed passwords, the regions they may act on.

Passwords are hashed with scrypt (``hashlib.scrypt``, n=2^14, r=8, p=1, a 16-byte salt
per operator), stored as ``scrypt$n$r$p$salt$hash`` so the parameters can rise later;
checking compares in constant time. ``regions`` are region codes (``62``, ``6401``): an
operator sees and decides only cooperatives whose id begins with one of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

import sqlalchemy as sa

from central_projector.reporting.regions import parse_region
from sync_core.errors import UsageError
from sync_core.ids import check_id

metadata = sa.MetaData()
operators = sa.Table(
    "console_operators",
    metadata,
    sa.Column("operator_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("password", sa.Text, nullable=False),
    sa.Column("regions", sa.Text, nullable=False),  # space-separated region codes
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

N, R, P = 2**14, 8, 1
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class Operator:
    operator_id: str
    name: str
    regions: tuple[str, ...]


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def add_operator(
    engine: sa.Engine,
    operator_id: str,
    name: str,
    password: str,
    regions: tuple[str, ...],
    *,
    replace: bool = False,
) -> Operator:
    """Create (or with ``replace`` overwrite) an operator; the table is made on first use."""
    check_id(operator_id, "operator id")
    if not regions:
        raise UsageError("an operator needs at least one --region (e.g. --region 62)")
    codes = tuple(sorted({parse_region(code).code for code in regions}))
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
    shown = name.strip() or operator_id
    row = {
        "operator_id": operator_id,
        "name": shown,
        "password": hash_password(password),
        "regions": " ".join(codes),
        "created_at": int(time.time() * 1000),
    }
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(operators.c.operator_id).where(operators.c.operator_id == operator_id)
        ).first()
        if exists and not replace:
            raise UsageError(
                f"operator {operator_id} exists; --replace sets a new password and regions"
            )
        if exists:
            conn.execute(
                sa.update(operators).where(operators.c.operator_id == operator_id).values(row)
            )
        else:
            conn.execute(sa.insert(operators).values(row))
    return Operator(operator_id, shown, codes)


def list_operators(conn: sa.Connection) -> list[Operator]:
    if not sa.inspect(conn).has_table(operators.name):
        return []
    q = sa.select(operators).order_by(operators.c.operator_id)
    return [Operator(r.operator_id, r.name, tuple(r.regions.split())) for r in conn.execute(q)]


def authenticate(conn: sa.Connection, operator_id: str, password: str) -> Operator | None:
    """The operator if the password is theirs; ``None`` otherwise (no hint which was wrong)."""
    row = None
    if sa.inspect(conn).has_table(operators.name):
        row = conn.execute(
            sa.select(operators).where(operators.c.operator_id == operator_id)
        ).first()
    if row is None:
        check_password(password, _DUMMY)  # the same work, so timing does not tell ids apart
        return None
    if not check_password(password, row.password):
        return None
    return Operator(row.operator_id, row.name, tuple(row.regions.split()))


_DUMMY = hash_password("not a password", b"\x00" * 16)
