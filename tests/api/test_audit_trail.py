"""The audit trail over HTTP and the CLI: ``placerisk audit --verify``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from layers import audit
from layers.store import open_store


def _cli(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


def test_audit_verify_exits_0_when_intact_and_1_at_the_first_break(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    store = open_store(db)
    for i in range(4):
        audit.record(store, action="read_place", user_name="pc-1", object_ids=[f"P{i}"])
    intact = _cli(db, "audit", "--verify")
    assert intact.exit_code == 0, intact.output
    assert "intact: 4 rows" in intact.output
    with store.connect() as conn:
        head = audit.verify(conn)
    assert f"head row 4 {head.head_hash}" in intact.output
    anchored = _cli(db, "audit", "--verify", "--anchor", f"4:{head.head_hash}")
    assert anchored.exit_code == 0
    with store.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("UPDATE audit_log SET object_ids = 'P9' WHERE id = 2")
    store.close()
    broken = _cli(db, "audit", "--verify")
    assert broken.exit_code == 1
    assert "BROKEN: row 2: its content no longer matches its hash" in broken.output


def test_audit_verify_refuses_filters_and_bad_anchors(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    open_store(db).close()
    assert _cli(db, "audit", "--verify", "--user", "x").exit_code == 2
    assert _cli(db, "audit", "--anchor", f"1:{'0' * 64}").exit_code == 2
    bad = _cli(db, "audit", "--verify", "--anchor", "1:abc")
    assert bad.exit_code == 2 and "64 hex digits" in bad.output


def test_the_audit_listing_is_one_line_per_row(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    store = open_store(db)
    audit.record(store, action="login", outcome="failed", user_name="x\nforged line",
                 status=401)
    store.close()
    listed = _cli(db, "audit").stdout.splitlines()
    assert len(listed) == 1 and "x\\nforged line" in listed[0] and " failed 401 " in listed[0]
