"""``kopsync schemas``: list, show and export the event catalog."""

from __future__ import annotations

from pathlib import Path

import click

from kopsync.cli import exits
from kopsync.cli.common import emit_json, friendly, json_option
from schemas.jsonschema import event_schema, export
from schemas.registry import REGISTRY


@click.group(epilog=exits.HELP)
def schemas() -> None:
    """The versioned event catalog."""


@schemas.command("list")
@json_option
@friendly
def list_(as_json: bool) -> None:
    """List every event type with its area, origin and latest version."""
    rows = [
        {
            "type": t,
            "area": REGISTRY.get(t).area,
            "aggregate": REGISTRY.get(t).aggregate,
            "origin": sorted(REGISTRY.get(t).origin),
            "latest_version": REGISTRY.latest_version(t),
        }
        for t in REGISTRY.types
    ]
    if as_json:
        emit_json(rows)
        return
    for r in sorted(rows, key=lambda r: (str(r["area"]), str(r["type"]))):
        origin = "/".join(REGISTRY.get(str(r["type"])).origin)
        click.echo(f"{r['area']:<10} {r['type']:<32} v{r['latest_version']}  {origin}")


@schemas.command()
@click.argument("event_type")
@click.option("--version", type=int, default=None, help="Schema version (default: latest).")
@friendly
def show(event_type: str, version: int | None) -> None:
    """Print the JSON Schema of one event type."""
    emit_json(event_schema(REGISTRY.get(event_type, version)))


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@friendly
def export_(directory: Path) -> None:
    """Write one JSON Schema file per event type and version into DIRECTORY."""
    paths = export(directory)
    click.echo(f"wrote {len(paths)} JSON Schema files to {directory}")


@schemas.command("asyncapi")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def asyncapi_(file: Path) -> None:
    """Write the AsyncAPI 3.0 document of every partner topic and payload to FILE."""
    from kopsync import __version__
    from schemas.asyncapi import write

    doc = write(file, __version__)
    click.echo(
        f"wrote AsyncAPI {doc['asyncapi']} with {len(doc['channels'])} channels and "
        f"{len(doc['components']['messages'])} messages to {file}"
    )


@schemas.command("openapi")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def openapi_(file: Path) -> None:
    """Write the OpenAPI 3.1 document of the edge agent's HTTP API to FILE."""
    import json

    from edge_agent.http.openapi import document

    doc = document()
    file.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    operations = sum(len(ops) for ops in doc["paths"].values())
    click.echo(f"wrote OpenAPI {doc['openapi']} with {operations} operations to {file}")
