"""Roll-ups as rows: flat columns for CSV, the same numbers as JSON.

A roll-up's CSV has one row for the region and one per child (regency or
cooperative); its columns are ``region, level, cooperatives`` then every figure as
``section.name`` (nested names joined by dots, e.g. ``loans.arrears_buckets.31-60``,
``aid.by_program.PUPUK.2026-11.redeemed``). Money is integer rupiah, never formatted.
The fields are documented in ``docs/EXPORTS.md``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from central_projector.reporting.rollups import SECTIONS
from sync_core.errors import UsageError


def flatten(figures: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"loans": {"outstanding": 5}}`` as ``{"loans.outstanding": 5}``."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def check_section(section: str | None) -> str | None:
    if section is not None and section not in SECTIONS:
        raise UsageError(f"no section '{section}'; choose one of {', '.join(SECTIONS)}")
    return section


def only(figures: Mapping[str, Any], section: str | None) -> dict[str, Any]:
    return dict(figures) if section is None else {section: figures[section]}


def rollup_rows(report: Mapping[str, Any], section: str | None = None) -> list[dict[str, Any]]:
    """The region's row, then one per child, every figure a column."""
    head = {"region": report["region"], "level": report["level"], "as_of": report["as_of"]}
    rows = [
        head | {"cooperatives": report["cooperatives"]} | flatten(only(report["figures"], section))
    ]
    for child in report["children"]:
        rows.append(
            {"region": child["region"], "level": child["level"], "as_of": report["as_of"]}
            | {"cooperatives": child["cooperatives"]}
            | flatten(only(child["figures"], section))
        )
    return rows


def rollup_json(report: Mapping[str, Any], section: str | None = None) -> dict[str, Any]:
    """The roll-up as JSON, narrowed to one section when asked."""
    if section is None:
        return dict(report)
    return {
        **{k: v for k, v in report.items() if k not in ("figures", "children")},
        "figures": only(report["figures"], section),
        "children": [{**c, "figures": only(c["figures"], section)} for c in report["children"]],
    }


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of ``rows``; the columns are the union of the rows' keys, in first-seen order."""
    rows = list(rows)
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), restval=0, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
