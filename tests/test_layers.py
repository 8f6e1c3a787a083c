"""Data flows one way: every import in `chalicelib/` points down the layers below, and the Admin UI's
JavaScript modules import each other without a cycle.

A module may import its own package and anything in a lower layer; never a higher layer, and never a
neighbour in its own layer (the engine and the invoker share the queue, they do not call each other).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chalicelib"

# Lowest first. A unit is a top-level module of chalicelib or one of its packages.
LAYERS: list[set[str]] = [
    {"clock", "errors", "observability", "codes", "signing"},
    {"settings", "ids", "cron", "stage"},
    {"events", "queue", "auth"},
    {"contracts"},  # what clients send and get: shared types, no behaviour of the engine
    {"masking"},
    {"store"},  # typed records in, typed records out
    {"views"},  # records as clients and events see them
    {"engine", "invoker"},  # the tick; the runs. Peers: neither imports the other
    {"services"},
    {"api", "bootstrap"},
    {"local"},  # make run: the whole stack in one process
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    return module.split(".")[1]


def imports() -> list[tuple[str, str, int]]:
    """(importing module's unit, imported unit, line) for every chalicelib import, lazy ones included."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        source = ".".join(relative.parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chalicelib"):
                targets = [node.module] if node.module != "chalicelib" else [f"chalicelib.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("chalicelib.")]
            else:
                continue
            found += [(source, target, node.lineno) for target in targets]
    return found


def test_every_unit_has_a_layer():
    units = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()
             if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
             or (path.is_dir() and any(path.glob("*.py")))}  # fmt: skip
    assert units - set(RANK) == set(), "give each new module of chalicelib a layer above"


def test_imports_point_down():
    upward = []
    for source, target, line in imports():
        here, there = unit_of(source), unit_of(target)
        if here != there and RANK[there] >= RANK[here]:
            upward.append(f"{source}:{line} imports {target} ({here} is layer {RANK[here]}, {there} {RANK[there]})")
    assert upward == []


def test_app_is_wiring_only():
    """app.py registers handlers; the shard messages it routes to the engine are its only decision."""
    tree = ast.parse((ROOT / "app.py").read_text())
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert all(len(function.body) == 1 for function in functions)  # one return of a call each


JS_IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["']\./([\w-]+\.js)["']""", re.MULTILINE)


def js_graph() -> dict[str, set[str]]:
    ui = PACKAGE / "ui"
    return {path.name: set(JS_IMPORT.findall(path.read_text())) for path in ui.glob("*.js")}


def test_ui_modules_import_without_a_cycle():
    graph = js_graph()
    assert sum(len(targets) for targets in graph.values()) > 0  # the pattern does find the imports
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("UI import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for target in graph.get(module, set()):
            visit(target, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])
