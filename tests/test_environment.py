"""One reader of the environment: `api.settings`. Everything else is handed its settings.

Every module of geo, layers, maps and api is read from its source; none but api/settings.py
may touch ``os.environ``, ``os.environb``, ``os.getenv`` or ``os.getenvb`` (attribute or
imported name). The checker is tested on planted sources too, so that it cannot pass by
seeing nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "layers", "maps", "api")
READER = "api.settings"
NAMES = {"environ", "environb", "getenv", "getenvb"}
# (module, function): why its use of the environment is not reading a setting
ALLOWED = {
    ("layers.store.backup", "_pg_conninfo"):
        "copies os.environ to hand it, with PGPASSWORD, to pg_dump: a child process",
}


def env_reads(source: str) -> list[tuple[str, int, str]]:
    """(what, line, enclosing function or ``""``) of each use of the environment in ``source``."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.Attribute) and node.attr in NAMES and (
                isinstance(node.value, ast.Name) and node.value.id == "os"):
            found.append((f"os.{node.attr}", node.lineno, function))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found.extend((f"from os import {alias.name}", node.lineno, function)
                         for alias in node.names if alias.name in NAMES | {"*"})
        inner = node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
            else function
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source), "")
    return found


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    return found


def readers(source: str, module: str) -> list[str]:
    """The uses of the environment ``module`` may not make."""
    if module == READER:
        return []
    return [f"{module}:{line} {what}" for what, line, function in env_reads(source)
            if (module, function) not in ALLOWED]


def test_only_api_settings_reads_the_environment() -> None:
    found = modules()
    assert len(found) > 80 and READER in found, "the walk found too few modules"
    assert [p for module, path in found.items() for p in readers(path.read_text(), module)] == []
    assert env_reads(found[READER].read_text()), "the reader should be seen reading"


@pytest.mark.parametrize(("module", "function"), ALLOWED)
def test_every_allowed_use_is_still_there(module: str, function: str) -> None:
    uses = env_reads(modules()[module].read_text())
    assert any(where == function for _, _, where in uses), f"{module}.{function}: drop it"


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("import os\nX = os.environ.get('A')\n", "maps.assets", ["maps.assets:2 os.environ"]),
    ("import os\ndef f():\n    return os.getenv('A')\n", "layers.store.engine",
     ["layers.store.engine:3 os.getenv"]),
    ("from os import environ as e\n", "api.cli._common",
     ["api.cli._common:1 from os import environ"]),
    ("from os import *\n", "geo.crs", ["geo.crs:1 from os import *"]),
    ("import os\ndef _pg_conninfo():\n    return {**os.environ}\n", "layers.store.backup", []),
    ("import os\ndef other():\n    return {**os.environ}\n", "layers.store.backup",
     ["layers.store.backup:3 os.environ"]),
    ("import os\nX = os.environ['A']\n", READER, []),
    ("import os\nX = os.path.join('a', 'environ')\n", "api.app", []),
])
def test_the_checker_sees_the_environment_read(source: str, module: str,
                                               expected: list[str]) -> None:
    assert readers(source, module) == expected
