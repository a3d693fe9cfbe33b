"""``placerisk users add`` without a terminal to ask for the password."""

from __future__ import annotations

from click.testing import CliRunner

from api.cli import main
from layers.access import accounts_store as accounts
from layers.store.engine import open_store


def test_users_add_without_a_terminal_says_what_to_do(tmp_path):
    db = tmp_path / "u.db"
    result = CliRunner().invoke(main, ["--db", str(db), "users", "add", "pc-9", "--role",
                                       "police", "--authority", "E06000001"])
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
                                       "police", "--authority", "E06000001", "--generate"])
    assert result.exit_code == 0 and "password: " in result.output


def _users(db) -> dict[str, object]:
    store = open_store(db)
    try:
        return {row["name"]: row["authorities"] for row in accounts.list_users(store)}
    finally:
        store.close()


def test_police_and_guardian_accounts_name_their_authorities(tmp_path):
    """Issue 11 item 6: nobody gets every authority by leaving an option out."""
    db = tmp_path / "u.db"
    runner = CliRunner()
    for role in ("police", "guardian"):
        result = runner.invoke(main, ["--db", str(db), "users", "add", f"{role}-1", "--role",
                                      role, "--generate"])
        assert result.exit_code == 2 and "--authority CODE" in result.output
    result = runner.invoke(main, ["--db", str(db), "users", "add", "pc-h", "--role", "police",
                                  "--authority", "E06000001", "--generate"])
    assert result.exit_code == 0 and "E06000001" in result.output
    assert "no wards of authority E06000001 are loaded yet" in result.output
    assert runner.invoke(main, ["--db", str(db), "users", "add", "ana", "--role", "analyst",
                                "--generate"]).exit_code == 0
    refused = runner.invoke(main, ["--db", str(db), "users", "add", "boss", "--role", "admin",
                                   "--authority", "E06000001", "--generate"])
    assert refused.exit_code == 1 and "audit log" in refused.output
    assert _users(db) == {"pc-h": frozenset({"E06000001"}), "ana": None}
    listed = runner.invoke(main, ["--db", str(db), "users", "list"]).output
    assert "sees E06000001" in listed and "sees all authorities" in listed


def test_changing_an_accounts_authorities_is_audited(tmp_path):
    db = tmp_path / "u.db"
    runner = CliRunner()
    assert runner.invoke(main, ["--db", str(db), "users", "add", "ana", "--role", "analyst",
                                "--generate"]).exit_code == 0
    result = runner.invoke(main, ["--db", str(db), "users", "authorities", "ana",
                                  "--authority", "E06000001", "--authority", "E06000004"])
    assert result.exit_code == 0, result.output
    assert "ana sees E06000001, E06000004 (was all authorities)" in result.output
    assert _users(db) == {"ana": frozenset({"E06000001", "E06000004"})}
    unclear = runner.invoke(main, ["--db", str(db), "users", "authorities", "ana"])
    assert unclear.exit_code == 2 and "--all-authorities" in unclear.output
    both = runner.invoke(main, ["--db", str(db), "users", "authorities", "ana",
                                "--authority", "E06000001", "--all-authorities"])
    assert both.exit_code == 2 and _users(db) == {"ana": frozenset({"E06000001", "E06000004"})}
    assert runner.invoke(main, ["--db", str(db), "users", "authorities", "ana",
                                "--all-authorities"]).exit_code == 0
    log = runner.invoke(main, ["--db", str(db), "audit", "--object", "ana"]).output
    assert "authorities: E06000001, E06000004 (was all authorities)" in log
    assert "authorities: all authorities (was E06000001, E06000004)" in log
    assert "cli:" in log
