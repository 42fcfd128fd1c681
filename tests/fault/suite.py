"""The fault scenarios by name, and the table of docs/RELIABILITY.md."""

from __future__ import annotations

from fault.clocks import clock_skew
from fault.common import Result, Scenario
from fault.inputs import malformed, replay
from fault.processes import link_faults, nats_loss, process_kill, soak
from fault.storage import corruption, disk_full

SCENARIOS: dict[str, Scenario] = {
    "process_kill": process_kill,
    "nats_loss": nats_loss,
    "link_faults": link_faults,
    "disk_full": disk_full,
    "corruption": corruption,
    "clock_skew": clock_skew,
    "malformed": malformed,
    "replay": replay,
    "soak": soak,
}
SHORT = [name for name in SCENARIOS if name != "soak"]  # the soak runs in long mode only

BEGIN, END = "<!-- fault-table:begin -->", "<!-- fault-table:end -->"


def command(res: Result) -> str:
    mode = " --long" if res.mode == "long" else ""
    return f"`python benchmarks/fault_suite.py{mode} --scenario {res.scenario} --seed {res.seed}`"


def table(results: list[Result]) -> str:
    """The Markdown table: scenario, mode, runs, events, lost, duplicated, detected, command."""
    lines = [
        "| scenario | mode | runs | events | lost | duplicated | detected | result | reproduce |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        found = "n/a" if r.to_detect is None else f"{r.detected}/{r.to_detect}"
        if r.to_detect:
            found += f" ({100 * (r.detected or 0) / r.to_detect:.0f} %)"
        extra = ""
        if r.scenario == "soak":
            extra = f"; RSS growth max {100 * (r.detail.get('rss_growth_max') or 0):.1f} %"
        verdict = ("ok" if r.ok else "**FAILED**") + extra
        lines.append(
            f"| {r.scenario} | {r.mode} | {r.runs:,} | {r.events:,} | {r.lost} | {r.duplicated} "
            f"| {found} | {verdict} | {command(r)} |"
        )
    return "\n".join(lines)


def splice(doc: str, results: list[Result]) -> str:
    """Replace the rows of the scenarios in ``results`` (same mode) in the doc's table."""
    head, _, rest = doc.partition(BEGIN)
    old, _, tail = rest.partition(END)
    rows = {
        tuple(cells[1:3]): line
        for line in old.splitlines()
        if (cells := [c.strip() for c in line.split("|")])
        and len(cells) > 3
        and cells[1] not in ("scenario", "---")
    }
    for r in results:
        rows[(r.scenario, r.mode)] = table([r]).splitlines()[-1]
    order = list(SCENARIOS)
    ordered = sorted(rows.items(), key=lambda kv: (kv[0][1] != "short", order.index(kv[0][0])))
    body = "\n".join([*table([]).splitlines(), *(line for _, line in ordered)])
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"
