"""The audit log's hash chain, on SQLite and PostgreSQL: no replace, and tampering shows.

Each attack is what a database administrator could do by hand: raw SQL, after dropping the
triggers that stop placerisk itself. `layers.store.audit.verify` (``placerisk audit --verify``)
must name the first row that broke.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from layers.store import audit, schema
from layers.store.engine import MIGRATIONS, Store, open_store, upgrade_schema
from tests.conftest import PG_ADMIN_URL, missing

ROWS = 6
TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete",
               "DROP TRIGGER audit_log_next_id_only"],
    "postgresql": ["DROP TRIGGER audit_log_no_change ON audit_log",
                   "DROP TRIGGER audit_log_next_id_only ON audit_log"],
}


def fill(store: Store, n: int = ROWS) -> None:
    for i in range(1, n + 1):
        audit.record(store, action="read_place", user_name=f"user-{i}", role="police",
                     object_type="place", object_ids=[f"P{i}"], client="10.0.0.1",
                     status=200)


def dba(store: Store, *statements: str, params: dict | None = None) -> None:
    """Run ``statements`` as a database administrator would: triggers dropped first."""
    with store.begin() as conn:
        for sql in (*TRIGGERS[store.dialect], *statements):
            conn.execute(sa.text(sql), params or {})


def check(store: Store, **kwargs: object) -> audit.Verification:
    with store.connect() as conn:
        return audit.verify(conn, **kwargs)  # type: ignore[arg-type]


def row(store: Store, row_id: int) -> dict:
    with store.connect() as conn:
        return dict(conn.execute(sa.select(schema.audit_log)
                                 .where(schema.audit_log.c.id == row_id)).mappings().one())


def test_an_untouched_log_verifies(store: Store) -> None:
    assert check(store).intact  # empty: the head is the genesis
    fill(store)
    found = check(store)
    assert found.intact and found.rows == ROWS and found.head_id == ROWS
    assert found.head_hash == row(store, ROWS)["row_hash"]
    assert row(store, 1)["prev_hash"] == audit.GENESIS
    assert row(store, 2)["prev_hash"] == row(store, 1)["row_hash"]


def _replace_sql(dialect: str) -> list[str]:
    columns = "(id, at, action, outcome, user_name)"
    values = "(2, CURRENT_TIMESTAMP, 'login', 'ok', 'nobody')"
    if dialect == "sqlite":
        return [f"INSERT OR REPLACE INTO audit_log {columns} VALUES {values}",
                f"REPLACE INTO audit_log {columns} VALUES {values}",
                f"INSERT INTO audit_log {columns} VALUES {values} "
                "ON CONFLICT (id) DO UPDATE SET user_name = 'nobody'",
                "INSERT INTO audit_log (at, action, outcome) "  # an id of SQLite's choosing
                "VALUES (CURRENT_TIMESTAMP, 'login', 'ok')"]
    return [f"INSERT INTO audit_log {columns} VALUES {values} "
            "ON CONFLICT (id) DO UPDATE SET user_name = 'nobody'",
            "MERGE INTO audit_log a USING (SELECT 2 AS id) s ON a.id = s.id "
            "WHEN MATCHED THEN UPDATE SET user_name = 'nobody'",
            "MERGE INTO audit_log a USING (SELECT 2 AS id) s ON a.id = s.id "
            "WHEN MATCHED THEN DELETE"]


def test_replace_and_upsert_are_refused(store: Store) -> None:
    fill(store, 3)
    before = row(store, 2)
    for sql in _replace_sql(store.dialect):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.begin() as conn:
            conn.execute(sa.text(sql))
    assert row(store, 2) == before
    assert check(store).intact


def test_a_row_cannot_be_slipped_in_between(store: Store) -> None:
    """An id below the newest is refused even where there is a gap (PostgreSQL's sequence
    leaves gaps), and so is an id that is not the next."""
    fill(store, 2)
    columns = "(id, at, action, outcome)"
    with store.begin() as conn:  # a gap, as a rolled-back insert leaves on PostgreSQL
        audit._append(conn, {"action": "login", "outcome": "ok"})
    for row_id in (1, 2):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO audit_log {columns} VALUES "
                                 f"({row_id}, CURRENT_TIMESTAMP, 'login', 'ok')"))
    assert check(store).intact


def _edit(store: Store) -> int:
    dba(store, "UPDATE audit_log SET user_name = 'someone-else' WHERE id = 3")
    return 3


def _delete(store: Store) -> int:
    dba(store, "DELETE FROM audit_log WHERE id = 3")
    return 4


def _reorder(store: Store) -> int:
    dba(store, "UPDATE audit_log SET id = -1 WHERE id = 3",
        "UPDATE audit_log SET id = 3 WHERE id = 4", "UPDATE audit_log SET id = 4 WHERE id = -1")
    return 3


def _forge(store: Store) -> int:
    """Replace row 3 with a forged row whose own hash is right (the forger knows the format)."""
    forged = {**row(store, 3), "user_name": "someone-else"}
    forged["row_hash"] = audit.row_digest(forged)
    dba(store, "DELETE FROM audit_log WHERE id = 3")
    with store.begin() as conn:
        conn.execute(sa.insert(schema.audit_log).values(**forged))
    return 4  # row 4 no longer follows it


def _append_unhashed(store: Store) -> int:
    dba(store, f"INSERT INTO audit_log (id, at, action, outcome) VALUES "
               f"({ROWS + 1}, CURRENT_TIMESTAMP, 'export', 'ok')")
    return ROWS + 1


def _truncate(store: Store) -> int | None:
    dba(store, f"DELETE FROM audit_log WHERE id >= {ROWS - 1}")
    return None  # the head, not a row, shows it


def _truncate_all(store: Store) -> int | None:
    dba(store, "DELETE FROM audit_log")
    return None


def _drop_head(store: Store) -> int | None:
    dba(store, "DELETE FROM audit_head")
    return None


ATTACKS: dict[str, tuple[Callable[[Store], int | None], str]] = {
    "edit": (_edit, "edited"),
    "delete": (_delete, "does not follow row 2"),
    "reorder": (_reorder, "edited"),
    "forged row": (_forge, "does not follow row 3"),
    "row without hash": (_append_unhashed, "raw SQL"),
    "truncated tail": (_truncate, f"ends at row {ROWS - 2} but its head names row {ROWS}"),
    "everything deleted": (_truncate_all, "every row was deleted"),
    "head deleted": (_drop_head, "head"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_verify_names_the_first_broken_row(store: Store, attack: str) -> None:
    fill(store)
    tamper, words = ATTACKS[attack]
    broken_at = tamper(store)
    found = check(store)
    assert not found.intact
    assert found.broken_at == broken_at
    assert words in (found.problem or "")


def test_a_recomputed_chain_needs_an_anchor_to_show(store: Store) -> None:
    """Someone who rewrites row 2 and recomputes every hash after it (and the head) passes
    a plain check; the head noted earlier, outside the database, shows the rewrite."""
    fill(store)
    noted = check(store)
    rewritten = audit.GENESIS
    rows = [row(store, i) for i in range(1, ROWS + 1)]
    rows[1]["user_name"] = "someone-else"
    dba(store, "DELETE FROM audit_log WHERE id >= 2")
    with store.begin() as conn:
        for r in rows:
            r["prev_hash"] = rewritten
            r["row_hash"] = rewritten = audit.row_digest(r)
            if r["id"] >= 2:
                conn.execute(sa.insert(schema.audit_log).values(**r))
        conn.execute(sa.update(schema.audit_head).values(last_hash=rewritten))
    assert check(store).intact  # the limit of an unkeyed chain: said in verify's docstring
    found = check(store, anchors={noted.head_id: noted.head_hash})
    assert found.broken_at == ROWS and "anchored" in (found.problem or "")
    assert check(store, anchors={ROWS + 5: noted.head_hash}).broken_at == ROWS + 5


def test_concurrent_writers_do_not_fork_the_chain(store: Store) -> None:
    threads, each = 6, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def write(t: int) -> None:
        try:
            start.wait()
            for i in range(each):
                audit.record(store, action="read_place", user_name=f"w{t}", object_ids=[i])
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    found = check(store)
    assert found.intact and found.rows == threads * each and found.head_id == threads * each


def test_audit_text_is_one_line(sqlite_store: Store) -> None:
    audit.record(sqlite_store, action="login", outcome="failed",
                 user_name="x\n2026-12-01T09:00:00 admin (admin) export ok\r\x1b[2J\u202e")
    (written,) = audit.query(sqlite_store.connect())["user_name"]
    assert written == "x\\n2026-12-01T09:00:00 admin (admin) export ok\\r\\x1b[2J\\u202e"[:64]
    assert written.isprintable()


# --- upgrading a store of revision 0005 ------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def bare_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, unmigrated store on either back end."""
    if request.param == "sqlite":
        store = open_store(tmp_path / "old.db", upgrade=False)
        yield store
        store.close()
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    except sa.exc.OperationalError as exc:
        missing(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    store = open_store(f"{PG_ADMIN_URL}?options=-csearch_path%3D{name}", upgrade=False)
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def migrate(store: Store, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


OLD_ROWS = [  # as placerisk before 0006 wrote them (PostgreSQL's ids have a gap)
    {"id": 1, "action": "login", "outcome": "ok", "user_name": "ana", "role": "analyst",
     "client": "10.0.0.9"},
    {"id": 2, "action": "read_place", "outcome": "ok", "user_name": "ana", "role": "analyst",
     "object_type": "place", "object_ids": "P1", "client": "10.0.0.9"},
    {"id": 4, "action": "export", "outcome": "ok", "user_name": "ana", "role": "analyst",
     "object_type": "export", "object_ids": "places", "purpose": "JAG 1 December",
     "client": "10.0.0.9"},
    {"id": 5, "action": "denied", "outcome": "denied", "detail": "GET /api/audit: role police",
     "client": ""},
]


def test_upgrade_from_0005_chains_the_rows_already_logged(bare_store: Store) -> None:
    migrate(bare_store, "0005")
    at = dt.datetime(2026, 11, 30, 17, 5, 9, 123456, tzinfo=dt.UTC)
    old = sa.table("audit_log", *(sa.column(c) for c in (*OLD_ROWS[2], "detail")),
                   sa.column("at", sa.DateTime(timezone=True)))
    with bare_store.begin() as conn:
        for i, r in enumerate(OLD_ROWS):
            conn.execute(sa.insert(old).values(**r, at=at + dt.timedelta(minutes=i)))
    upgrade_schema(bare_store)
    found = check(bare_store)
    assert found.intact and found.rows == len(OLD_ROWS) and found.head_id == 5
    assert row(bare_store, 4)["purpose"] == "JAG 1 December"  # content kept as it was
    audit.record(bare_store, action="login", user_name="bob", status=200)
    assert row(bare_store, 6)["prev_hash"] == row(bare_store, 5)["row_hash"]
    assert check(bare_store).intact
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), \
            bare_store.begin() as conn:  # the UPDATE trigger is back after the upgrade's pass
        conn.execute(sa.text("UPDATE audit_log SET user_name = 'x' WHERE id = 1"))
    dba(bare_store, "UPDATE audit_log SET purpose = 'something else' WHERE id = 4")
    assert check(bare_store).broken_at == 4


def test_downgrade_to_0005_and_back(bare_store: Store) -> None:
    migrate(bare_store, "head")
    fill(bare_store, 3)
    migrate(bare_store, "0005", down=True)
    with bare_store.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}
        assert "row_hash" not in columns and "audit_head" not in sa.inspect(conn
                                                                             ).get_table_names()
    migrate(bare_store, "head")
    assert check(bare_store).intact and check(bare_store).rows == 3
