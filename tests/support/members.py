"""Members registered on an in-memory device: what savings, loans and member sales need."""

from __future__ import annotations

from edge_agent.domain.memory import MemoryViews


def with_members(*member_ids: str, book: MemoryViews | None = None) -> MemoryViews:
    """``book`` (a new one by default) with each member registered, one NIK each."""
    book = book if book is not None else MemoryViews()
    for i, member_id in enumerate(member_ids, start=1):
        book.record(
            "MemberRegistered",
            member_id,
            {
                "nik": f"647201410190{i:04d}",
                "kk_no": "6472010101900099",
                "name": f"Anggota {i}",
                "birth_date": "1990-01-01",
                "desa_code": "6472010001",
            },
        )
    return book
