"""``placerisk users add`` without a terminal to ask for the password."""

from __future__ import annotations

from click.testing import CliRunner

from api.cli import main
from layers import accounts
from layers.store import open_store


def test_users_add_without_a_terminal_says_what_to_do(tmp_path):
    db = tmp_path / "u.db"
    result = CliRunner().invoke(main, ["--db", str(db), "users", "add", "pc-9", "--role",
                                       "police"])
    assert result.exit_code != 0
    assert "Aborted!" not in result.output
    assert "--generate" in result.output and "terminal" in result.output
    store = open_store(db)
    try:
        assert "pc-9" not in {row["name"] for row in accounts.list_users(store)}
    finally:
        store.close()


def test_users_add_with_generate_needs_no_terminal(tmp_path):
    db = tmp_path / "u.db"
    result = CliRunner().invoke(main, ["--db", str(db), "users", "add", "pc-9", "--role",
                                       "police", "--generate"])
    assert result.exit_code == 0 and "password: " in result.output
