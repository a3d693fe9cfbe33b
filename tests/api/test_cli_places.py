"""``placerisk place``: the same writes as the API, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from tests.api.conftest import build_store


def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), "place", *args], catch_exceptions=False)


def test_add_edit_level_close_and_the_history(tmp_path: Path) -> None:
    db = build_store(tmp_path, score=False)
    made = run(db, "add", "--id", "PC1", "--name", "Chicken Hut", "--category", "takeaway",
               "--latitude", "54.57", "--longitude", "-1.32", "--level", "3",
               "--reason", "two reports")
    assert made.exit_code == 0 and made.output.strip() == "PC1 version 1"
    edit = run(db, "edit", "PC1", "--version", "1", "--address", "1 High St")
    assert edit.exit_code == 0 and "address: None -> '1 High St'" in edit.output
    assert "PC1 version 2" in edit.output
    stale = run(db, "edit", "PC1", "--version", "1", "--name", "Other")
    assert stale.exit_code == 2 and "reload it" in stale.output
    level = run(db, "level", "PC1", "--to", "4", "--reason", "county lines", "--version", "2",
                "--on", "2025-06-02", "--ref", "MACE 2025-06-02")
    assert level.exit_code == 0 and "level 3 -> 4, version 3" in level.output
    closed = run(db, "close", "PC1", "--reason", "demolished", "--version", "3")
    assert closed.exit_code == 0
    history = run(db, "history", "PC1", "--json")
    rows = [json.loads(line) for line in history.output.splitlines()]
    assert [(r["version"], r["action"]) for r in rows] == [
        (1, "create"), (2, "update"), (3, "level"), (4, "close")]
    assert all(r["changed_by"].startswith("cli:") for r in rows)


def test_refused_values_name_the_field_and_exit_1(tmp_path: Path) -> None:
    db = build_store(tmp_path, score=False)
    bad = run(db, "add", "--name", "X", "--category", "castle", "--latitude", "54.57",
              "--longitude", "-1.32", "--level", "2")
    assert bad.exit_code == 1 and "category 'castle'" in bad.output
    missing = run(db, "edit", "NOPE", "--version", "1", "--name", "X")
    assert missing.exit_code == 1 and "no place 'NOPE'" in missing.output
