"""The command line writes its files without the web app: only ``serve`` imports it.

Two checks: every file-writing command run in a fresh interpreter leaves FastAPI and
Starlette unimported (whatever it imports along the way), and no module of ``api/cli``
but `api.cli.serve` names FastAPI, Starlette, uvicorn, `api.app` or `api.routes` at all,
which `api.cli.serve` itself does only inside the command.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import AS_OF, build_store

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "api" / "cli"
SERVE = "api.cli.serve"
APP_PACKAGES = ("fastapi", "starlette", "uvicorn", "api.app", "api.routes")

# Runs the CLI with the arguments given, then fails (exit 99) if the app came along.
WRAPPER = """
import sys
from api.cli import main
try:
    main(sys.argv[1:], prog_name="placerisk")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("fastapi", "starlette"))
if leaked:
    print("imported to write a file: " + ", ".join(leaked[:5]), file=sys.stderr)
    sys.exit(99)
assert 'fastapi' not in sys.modules and 'starlette' not in sys.modules
sys.exit(code)
"""

COMMANDS = {
    "export": ["export", "places", "--out", "{out}/places.csv"],
    "briefing": ["briefing", "--meeting", AS_OF.isoformat(), "--out", "{out}/pack.html"],
    "patrol-plan": ["patrol-plan", "--area", "E05000001", "--date", AS_OF.isoformat(),
                    "--out", "{out}/plan.gpx"],
    "map": ["map", "--view", "ward", "--ward", "E05000001", "--out", "{out}/ward.html"],
    "outcomes": ["outcomes", "--as-of", AS_OF.isoformat(), "--out", "{out}/outcomes.csv"],
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("cli_imports"))


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_command_writing_a_file_never_imports_the_app(db, tmp_path, args):
    argv = [arg.format(out=tmp_path) for arg in args]
    done = subprocess.run([sys.executable, "-c", WRAPPER, "--db", str(db), *argv],
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("PLACERISK_")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path(argv[-1]).stat().st_size > 0


# --- the static check --------------------------------------------------------------------

def app_imports(source: str) -> list[tuple[str, int, bool]]:
    """(module, line, inside a function) of every import of the app in ``source``.

    ``from api import app`` counts as ``api.app``: each name imported from a module is read
    as a module too.
    """
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in dict.fromkeys(names):
            if any(name == p or name.startswith(p + ".") for p in APP_PACKAGES):
                found.append((name, node.lineno, in_function))
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def problems(source: str, module: str) -> list[str]:
    """The imports of the app that ``module`` may not make."""
    return [f"{module}:{line} imports {name}" for name, line, lazily in app_imports(source)
            if module != SERVE or not lazily]


def test_only_serve_imports_the_app_and_only_inside_the_command() -> None:
    modules = {f"api.cli.{p.stem}": p for p in sorted(CLI.glob("*.py"))}
    assert {"api.cli.__init__", "api.cli._common", SERVE, "api.cli.exports"} <= set(modules)
    found = [p for module, path in modules.items() for p in problems(path.read_text(), module)]
    assert found == []
    lazily = {name for name, _, inside in app_imports(modules[SERVE].read_text()) if inside}
    assert {"uvicorn", "api.app"} <= lazily, "the walk should see serve import the app"


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("import fastapi\n", "api.cli.exports", ["api.cli.exports:1 imports fastapi"]),
    ("def f():\n    from starlette.responses import Response\n", "api.cli.views",
     ["api.cli.views:2 imports starlette.responses",
      "api.cli.views:2 imports starlette.responses.Response"]),
    ("from api import app\n", "api.cli.store", ["api.cli.store:1 imports api.app"]),
    ("from api.routes.plans import MEDIA_TYPES\n", "api.cli.patrol",
     ["api.cli.patrol:1 imports api.routes.plans",
      "api.cli.patrol:1 imports api.routes.plans.MEDIA_TYPES"]),
    ("from api.application import x\nimport fastapix\n", "api.cli.demo", []),
    ("def serve():\n    from api.app import create_app\n", SERVE, []),
    ("from api.app import create_app\n", SERVE,
     ["api.cli.serve:1 imports api.app", "api.cli.serve:1 imports api.app.create_app"]),
])
def test_the_checker_sees_imports_of_the_app(source: str, module: str,
                                             expected: list[str]) -> None:
    assert problems(source, module) == expected
