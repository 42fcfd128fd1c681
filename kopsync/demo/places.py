"""The cooperatives of the demo: real places of Central and East Kalimantan.

Province and regency codes are the Ministry of Home Affairs codes. The three East Kalimantan
cooperatives are the programme's own (two national mock-ups and Berau's shared one); the Central
Kalimantan ones are named after real villages and wards of their regencies. Every 10-digit village
code is made up within its regency, as the demo says when it prints them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cooperative:
    coop_id: str
    name: str
    regency: str
    province: str
    devices: tuple[str, ...]

    @property
    def regency_code(self) -> str:
        return self.coop_id[:4]


KALTENG, KALTIM = "Kalimantan Tengah", "Kalimantan Timur"

# The order matters: the first four carry the planned conflicts (see scenario.py).
COOPERATIVES: tuple[Cooperative, ...] = (
    Cooperative(
        "6401050012",
        "Koperasi Desa Merah Putih Paser Belengkong",
        "Paser",
        KALTIM,
        ("pb-kasir-1", "pb-kasir-2"),
    ),
    Cooperative(
        "6472021005",
        "Koperasi Kelurahan Merah Putih Lempake",
        "Samarinda",
        KALTIM,
        ("lmp-kasir-1", "lmp-simpan-pinjam"),
    ),
    Cooperative(
        "6271031004",
        "Koperasi Kelurahan Merah Putih Kalampangan",
        "Palangka Raya",
        KALTENG,
        ("klp-kasir-1",),
    ),
    Cooperative(
        "6202081007",
        "Koperasi Desa Merah Putih Bapinang Hilir",
        "Kotawaringin Timur",
        KALTENG,
        ("bph-kasir-1", "bph-kasir-2", "bph-gudang"),
    ),
    Cooperative(
        "6403052003",
        "Koperasi Desa Merah Putih Sindu Batu Raja",
        "Berau",
        KALTIM,
        ("sbr-kasir-1",),
    ),
    Cooperative(
        "6208011002",
        "Koperasi Kelurahan Merah Putih Kuala Pembuang II",
        "Seruyan",
        KALTENG,
        ("kpb-kasir-1", "kpb-kasir-2"),
    ),
)

MIN_COOPERATIVES = 4  # the planned conflicts need the first four
# Bapinang Hilir's three counters share a hub on site (`kopsync edge hub`): a leaf node of the
# province over the satellite, through which they see each other's events as they record.
HUB_COOP = "6202081007"
