"""What each console page shows, as plain data for its template (blocking reads)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from central_projector.console.cache import TtlCache
from central_projector.projection.resolve import find_item
from central_projector.reporting import exports, health, ministry, rollups
from central_projector.reporting.formats import figure
from central_projector.reporting.regions import (
    NAMES,
    Region,
    local_time,
    parse_region,
)
from sync_core import localtime
from sync_core.errors import UnknownItem

# decisions offered per kind (an operator may type another); each is an id token
DECISIONS: dict[str, tuple[str, ...]] = {
    "DUPLICATE_REDEMPTION": ("REIMBURSE_WINNER_ONLY", "REIMBURSE_BOTH", "RECOVER_FROM_FAMILY"),
    "OVERSPEND": ("ACCEPT_OVERSPEND", "RECOVER_FROM_COOP", "RAISE_ALLOWANCE"),
    "NEGATIVE_STOCK": ("COUNT_ORDERED", "ADJUSTED", "ACCEPT"),
    # the goods came and were sold: the quota is raised after the fact, the surplus goes
    # back to the distributor, or the excess is accepted as it stands
    "QUOTA_EXCEEDED": ("RAISE_QUOTA", "RETURN_EXCESS", "ACCEPT"),
    "CREDIT_OVERPAID": ("REFUND", "KEEP_AS_ADVANCE"),
    "PROFILE_CONFLICT": ("KEEP_LATEST", "KEEP_EARLIER", "VERIFIED_IN_PERSON"),
    "DUPLICATE_NIK": ("MERGE", "KEEP_APART"),
    "NIK_COLLISION": ("VERIFIED_IN_PERSON", "CORRECT_NIK"),
    "LATE_REPAYMENT": ("RECOMPUTE_WRITE_OFF", "ACCEPT"),
    "RECOVERY_AFTER_WRITE_OFF": ("BOOK_RECOVERY", "ACCEPT"),
    "CLOCK_SKEW": ("CLOCK_FIXED", "ACCEPT"),
    "GAP": ("RESENT", "ACCEPT_LOSS"),
}
KINDS = tuple(DECISIONS)


class Views:
    def __init__(self, engine: sa.Engine, silent_days: int, cache_s: float = 0.0) -> None:
        self.engine = engine
        self.silent_days = silent_days
        self.cache = TtlCache(cache_s)

    def now(self) -> int:
        return int(time.time() * 1000)

    def rollup(self, region: Region, as_of: str | None) -> dict[str, Any]:
        """The region's roll-up as the cache shares it; ``computed_at`` (ms) says when."""
        report, at = self.cache.get(
            (region.code, region.level, as_of), self._computer(region, as_of)
        )
        return {**report, "computed_at": int(at * 1000)}

    def warm(self, codes: list[str]) -> None:
        """Start computing these regions' roll-ups (the operators' own) in the background."""
        for code in codes:
            region = parse_region(code)
            self.cache.warm((region.code, region.level, None), self._computer(region, None))

    def _computer(self, region: Region, as_of: str | None) -> Callable[[], dict[str, Any]]:
        def compute() -> dict[str, Any]:
            if region.level in ("village", "cooperative"):
                # a handful of rows: one connection does it sooner than several would
                with self.engine.connect() as conn:
                    return rollups.rollup(conn, region, as_of, silent_days=self.silent_days)
            return rollups.rollup(self.engine, region, as_of, silent_days=self.silent_days)

        return compute

    def region_context(self, report: dict[str, Any]) -> dict[str, Any]:
        region = Region(report["region"], report["level"])
        return {
            "report": report,
            "computed": local_time(report["computed_at"], region.code),
            "sections": sections(report["figures"], region.code),
            "children": [child_row(c) for c in report["children"]],
            "exports": rollups.SECTIONS,
        }

    def coop_context(self, region: Region, as_of: str | None) -> dict[str, Any]:
        now = self.now()
        report = self.rollup(region, as_of)
        with self.engine.connect() as conn:
            if not report["cooperatives"]:
                raise UnknownItem(f"no cooperative {region.code} in the read models")
            devices = health.device_health(conn, region, now, self.silent_days)
            items = health.conflict_queue(conn, region, status="OPEN")
        for d in devices:
            d["last_seen_local"] = (
                local_time(d["last_seen"], d["coop_id"]) if d["last_seen"] else None
            )
        return {
            "report": report,
            "computed": local_time(report["computed_at"], region.code),
            "sections": sections(report["figures"], region.code),
            "devices": devices,
            "items": items,
            "tables": tuple(t for t in ministry.TABLES_OUT if t != "cooperative"),
        }

    def sync_context(self, region: Region, days: int) -> dict[str, Any]:
        now = self.now()
        with self.engine.connect() as conn:
            devices = health.device_health(conn, region, now, days)
        for d in devices:
            d["last_seen_local"] = (
                local_time(d["last_seen"], d["coop_id"]) if d["last_seen"] else None
            )
        return {
            "region": region,
            "days": days,
            "devices": devices,
            "silent": sum(1 for d in devices if d["silent"]),
        }

    def queue_context(self, region: Region, filters: dict[str, Any]) -> dict[str, Any]:
        with self.engine.connect() as conn:
            items = health.conflict_queue(conn, region, **filters)
        return {
            "region": region,
            "items": items,
            "kinds": KINDS,
            "kind": filters["kind"],
            "coop": filters["coop_id"] or "",
        }

    def item(self, conflict_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            item = find_item(conn, conflict_id)
        if item is None:
            raise UnknownItem(f"no conflict {conflict_id}")
        return item

    def item_context(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "item": item,
            "detail": json.dumps(item["detail"], ensure_ascii=False, indent=2, sort_keys=True),
            "decisions": DECISIONS.get(item["kind"] or "", ("ACCEPT",)),
        }

    def replay_context(self, zone_code: str) -> dict[str, Any]:
        """Where projection stands, times in the zone of the operator's region."""
        with self.engine.connect() as conn:
            status = health.projection_status(conn)
        p = status["projector"]
        if p:
            p["updated_local"] = local_time(p["updated_at"], zone_code)
        r = status["replay"]
        if r:
            r["created_local"] = local_time(r["created_at"], zone_code)
        return {"status": status}

    def ministry(self, region: Region, as_of: str | None) -> dict[str, Any]:
        now = self.now()
        with self.engine.connect() as conn:
            day = as_of or localtime.today(region.code, now)
            tables = ministry.coop_export(conn, region.code, day, now)
        if not tables["cooperative"][0]["events"] and not tables["members"]:
            raise UnknownItem(f"no cooperative {region.code} in the read models")
        return tables


def sections(figures: dict[str, Any], code: str) -> list[tuple[str, list[tuple[str, int, str]]]]:
    """Per section: (dotted path, raw value, as shown) for each figure."""
    out = []
    for name in rollups.SECTIONS:
        rows = []
        for path, value in exports.flatten({name: figures[name]}).items():
            if path.endswith("last_seen"):
                shown = local_time(value, code) if value else "-"
            else:
                shown = figure(path, value)
            rows.append((path, value, shown))
        out.append((name, rows))
    return out


def child_row(child: dict[str, Any]) -> dict[str, Any]:
    f = child["figures"]
    cells = {
        "cooperatives": child["cooperatives"],
        "members.count": f["members"]["count"],
        "savings.balance": f["savings"]["balance"],
        "loans.outstanding_principal": f["loans"]["outstanding_principal"],
        "loans.par30_bp": f["loans"]["par30_bp"],
        "aid.redeemed_value": f["aid"]["redeemed_value"],
        "sync.silent": f["sync"]["silent"],
        "sync.open_conflicts": f["sync"]["open_conflicts"],
    }
    return {
        "region": child["region"],
        "name": NAMES.get(child["region"], ""),
        "level": child["level"],
        "href": f"/region/{child['region']}"
        if child["level"] == "regency"
        else f"/coop/{child['region']}",
        "cells": [(k, v, figure(k, v)) for k, v in cells.items()],
    }
