"""The import rules of docs/ARCHITECTURE.md, checked on the source (every import, lazy ones too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sync_core", "schemas", "edge_agent", "central_projector", "kopsync")
# Lower layers first; a module may import its own layer or the ones below it.
LAYER = {"sync_core": 0, "schemas": 1, "edge_agent": 2, "central_projector": 2, "kopsync": 3}
# Pure code: no network, database, event loop or event-store library, and only pure code of
# ours beneath it (so nothing impure comes in through another module either). Reading a
# file the caller names (the partners file) is allowed.
PURE = (
    "sync_core",  # except sync_core.transport, below
    "schemas",
    "edge_agent.domain",
    "edge_agent.app.sendplan",
    "central_projector.projection.folds",
    "central_projector.ingest.verdict",
    "central_projector.ingest.checks",
    "central_projector.ingest.sequence",
    "central_projector.ingest.known",
    "central_projector.ingest.gaps",
    "central_projector.record.rows",
    "central_projector.partners.routing",
    "central_projector.partners.config",
    "central_projector.partners.pseudonymise",
    "central_projector.security.policy",
)
NOT_PURE = ("sync_core.transport",)
IO_LIBRARIES = ("nats", "sqlalchemy", "sqlite3", "asyncio", "eventsourcing")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module pkg.mod where there is one.
            yield from (
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            )


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_pure(name: str) -> bool:
    return within(name, PURE) and not within(name, NOT_PURE)


def top(name: str) -> str:
    return name.partition(".")[0]


def ours(imported: str) -> bool:
    return top(imported) in LAYER


EDGES = [(name, imported) for name, path in MODULES.items() for imported in imports(name, path)]


def test_the_packages_are_all_found() -> None:
    """The walk sees every package and the modules the rules name (a moved folder fails here)."""
    for prefix in (*PURE, *NOT_PURE, *PACKAGES):
        assert any(within(name, (prefix,)) for name in MODULES), prefix


def test_no_package_imports_a_layer_above_it() -> None:
    """sync_core <- schemas <- edge_agent, central_projector <- kopsync: never upward."""
    upward = [
        (name, imported)
        for name, imported in EDGES
        if ours(imported) and LAYER[top(imported)] > LAYER[top(name)]
    ]
    assert upward == []


def test_the_edge_and_the_central_never_import_each_other() -> None:
    """edge_agent and central_projector meet only through sync_core and schemas."""
    crossing = [
        (name, imported)
        for name, imported in EDGES
        if {top(name), top(imported)} == {"edge_agent", "central_projector"}
    ]
    assert crossing == []


@pytest.mark.parametrize("library", IO_LIBRARIES)
def test_pure_modules_import_no_io_library(library: str) -> None:
    """The pure cores import no nats, SQLAlchemy, sqlite3, asyncio or eventsourcing."""
    offending = [
        (name, imported)
        for name, imported in EDGES
        if is_pure(name) and within(imported, (library,))
    ]
    assert offending == []


def test_pure_modules_import_only_pure_modules_of_ours() -> None:
    """What a pure module imports from kopsync's packages is pure too, so no I/O comes in
    through another module."""
    impure = [
        (name, imported)
        for name, imported in EDGES
        if is_pure(name) and ours(imported) and not is_pure(imported)
    ]
    assert impure == []
