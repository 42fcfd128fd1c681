"""The stock ledger's order keys as bytes: they sort like the keys and read back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from central_projector.projection.folds.base import Okey
from central_projector.projection.readmodels.sqlstate import okey_bytes, okey_of

# device ids are NATS subject tokens: no '.', '*', '>', spaces, and never a NUL
devices = st.text(
    st.characters(blacklist_characters=".*> \x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=32,
)
okeys = st.lists(
    st.tuples(
        st.integers(0, 2**63 - 1), st.integers(0, 2**32 - 1), devices, st.integers(0, 2**63 - 1)
    ).map(list),
    min_size=1,
    max_size=40,
)


@given(okeys)
def test_bytes_sort_like_the_keys_and_read_back(keys: list[Okey]) -> None:
    assert [okey_of(okey_bytes(k)) for k in keys] == keys
    assert sorted(keys, key=okey_bytes) == sorted(keys)
