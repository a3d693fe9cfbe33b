"""Dependencies point one way: api -> maps -> layers -> geo.

Every import in every module of the four packages is read from its source (top-level and
in-function imports, absolute and relative) and none may name a package above its own.
The checker is tested on planted sources too, so the rule cannot pass by reading nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = {"geo": 0, "layers": 1, "maps": 2, "api": 3}


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
