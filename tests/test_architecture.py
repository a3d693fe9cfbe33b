"""The layout's rules, read from the sources: dependencies point one way, with no cycles.

- api -> maps -> layers -> geo: no module imports a package above its own;
- inside layers: errors, dates -> store -> records -> hotspots -> access, action -> reporting
  (`LAYERS`), access and action apart;
- no import cycle between any two modules of the four packages;
- the database is touched (sqlalchemy imported at run time) only by the modules named for
  it: `layers/store/`, and modules named ``read``, ``importer``, ``runs``, ``*inputs`` or
  ``*_store``; never by geo/ or maps/.

Every import (top-level and in-function, absolute and relative) is read. Each checker is
tested on planted sources too, so a rule cannot pass by reading nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = {"geo": 0, "layers": 1, "maps": 2, "api": 3}
# Inside layers; equal ranks may not import each other.
LAYERS = {"errors": 0, "dates": 1, "store": 2, "records": 3, "hotspots": 4, "access": 5,
          "action": 5, "reporting": 6}
IO_NAMES = ("read", "importer", "runs")


def imported(source: str, module: str) -> list[tuple[str, int]]:
    """(imported module, line) of every import in ``source``, the module named ``module``."""
    package = module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's own package
                base = package[:len(package) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            out.append((name, node.lineno))
    return out


def upward(source: str, module: str) -> list[str]:
    """Imports in ``source`` of a package above ``module``'s own."""
    own = ORDER[module.split(".")[0]]
    return [f"{module}:{line} imports {name}" for name, line in imported(source, module)
            if ORDER.get(name.split(".")[0], -1) > own]


def inside_layers(source: str, module: str) -> list[str]:
    """Imports in ``source`` (of the layers module ``module``) of a layers part above its own."""
    parts = module.split(".")
    if parts[0] != "layers" or len(parts) < 3 and parts[-1] == "__init__":
        return []
    own = parts[1]
    problems = []
    for name, line in imported(source, module):
        target = name.split(".")
        if target[0] != "layers" or len(target) < 2 or target[1] == own:
            continue
        if LAYERS.get(target[1], 99) >= LAYERS.get(own, -1):
            problems.append(f"{module}:{line} imports {name}")
    return problems


def runtime_imports(source: str) -> set[str]:
    """Modules ``source`` imports when it runs: ``if TYPE_CHECKING:`` blocks left out."""
    tree = ast.parse(source)
    skipped = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module)
    return out


def touches_database(source: str) -> bool:
    return any(name.split(".")[0] == "sqlalchemy" for name in runtime_imports(source))


def named_for_io(module: str) -> bool:
    """A module whose name says it reads or writes the store."""
    parts = module.split(".")
    stem = parts[-1]
    return (parts[:2] == ["layers", "store"] or stem in IO_NAMES or stem.endswith("inputs")
            or stem.endswith("_store"))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_graph(found: list[tuple[str, Path]]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name resolved to its longest module)."""
    names = {module.removesuffix(".__init__") for module, _ in found}

    def resolve(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in found:
        source = path.read_text()
        own = module.removesuffix(".__init__")
        targets = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {resolve(f"{node.module}.{a.name}") for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {resolve(a.name) for a in node.names}
        graph[own] = {t for t in targets if t and t != own}
    return graph


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ORDER:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = (*parts[:-1], "__init__")
            found.append((".".join(parts), path))
    return found


def test_no_module_imports_a_package_above_its_own() -> None:
    found = modules()
    assert len(found) > 80, "the walk found too few modules to be reading the tree"
    problems = [p for module, path in found for p in upward(path.read_text(), module)]
    assert problems == []


def test_inside_layers_each_part_imports_only_the_parts_below_it() -> None:
    found = [(m, p) for m, p in modules() if m.startswith("layers.")
             and ".migrations." not in m]
    assert len(found) > 50
    assert [p for module, path in found for p in inside_layers(path.read_text(), module)] == []


def test_no_import_cycles() -> None:
    graph = import_graph(modules())
    assert len(graph) > 80 and sum(map(len, graph.values())) > 300
    assert cycles(graph) == []


def test_only_modules_named_for_it_touch_the_database() -> None:
    found = [(m, p) for m, p in modules() if m.split(".")[0] in ("geo", "layers", "maps")
             and ".migrations." not in m]
    wrong = [module for module, path in found
             if touches_database(path.read_text()) and not named_for_io(module)
             or touches_database(path.read_text()) and module.split(".")[0] != "layers"]
    assert wrong == []
    assert sum(touches_database(path.read_text()) for _, path in found) >= 15


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("from layers.reporting import exports\n", "layers.records.importer",
     ["layers.records.importer:1 imports layers.reporting"]),
    ("from layers.action.patrol import cells\n", "layers.access.review_store",
     ["layers.access.review_store:1 imports layers.action.patrol"]),
    ("def f():\n    from layers.records import read\n", "layers.store.engine",
     ["layers.store.engine:2 imports layers.records"]),
    ("from layers.store import schema\nfrom layers import errors\n", "layers.records.read", []),
    ("from ..store import schema\n", "layers.hotspots.read", []),
    ("from . import cube\n", "layers.hotspots.engine", []),
])
def test_the_layers_checker_sees_upward_imports(source: str, module: str,
                                                expected: list[str]) -> None:
    assert inside_layers(source, module) == expected


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize(("source", "database"), [
    ("import sqlalchemy as sa\n", True),
    ("def f():\n    from sqlalchemy import select\n", True),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlalchemy as sa\n", False),
    ("import pandas as pd\n", False),
])
def test_the_database_check_reads_runtime_imports(source: str, database: bool) -> None:
    assert touches_database(source) is database


@pytest.mark.parametrize(("module", "named"), [
    ("layers.store.audit", True), ("layers.records.read", True), ("layers.hotspots.runs", True),
    ("layers.action.outcomes.inputs", True), ("layers.access.review_store", True),
    ("layers.records.places", False), ("layers.hotspots.cube", False),
])
def test_the_io_names(module: str, named: bool) -> None:
    assert named_for_io(module) is named


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("from maps import hexes\n", "layers.records.read", ["layers.records.read:1 imports maps"]),
    ("def f():\n    import api.app\n", "geo.crs", ["geo.crs:2 imports api.app"]),
    ("from ...maps import view\n", "layers.store.engine", ["layers.store.engine:1 imports maps"]),
    ("from . import cube\n", "layers.hotspots.engine", []),
    ("from layers import store\nimport numpy\n", "maps.view", []),
    ("from geo import crs\n", "api.app", []),
])
def test_the_checker_sees_upward_imports(source: str, module: str, expected: list[str]) -> None:
    assert upward(source, module) == expected
