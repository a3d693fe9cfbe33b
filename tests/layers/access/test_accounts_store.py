"""Accounts, sessions and the append-only audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from layers.access import accounts_store as accounts
from layers.store import audit, schema
from layers.store.engine import Store

PASSWORD = "correct horse battery staple"


def test_passwords_are_argon2_hashes_and_tokens_are_digests(store: Store) -> None:
    user = accounts.add_user(store, "ana", "analyst", PASSWORD)
    token, session = accounts.start_session(store, user, kind="bearer", hours=1)
    with store.connect() as conn:
        stored = conn.execute(sa.select(schema.users.c.password_hash)).scalar_one()
        digests = conn.execute(sa.select(schema.sessions.c.token_hash)).scalars().all()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert digests == [accounts.token_digest(token)] and token not in digests
    assert accounts.find_session(store, token, kind="bearer") == session
    assert accounts.find_session(store, token, kind="cookie") is None  # kinds do not mix


@pytest.mark.parametrize(("name", "role", "password", "needle"), [
    ("a", "analyst", PASSWORD, "user name"),
    ("ok-name", "chief", PASSWORD, "role 'chief'"),
    ("ok-name", "police", "short", "too short"),
    ("<b>x</b>", "police", PASSWORD, "user name"),
])
def test_bad_accounts_are_refused(sqlite_store: Store, name: str, role: str, password: str,
                                  needle: str) -> None:
    with pytest.raises(accounts.AccountError, match=needle):
        accounts.add_user(sqlite_store, name, role, password)


def test_duplicate_name_is_refused(sqlite_store: Store) -> None:
    accounts.add_user(sqlite_store, "pc-1", "police", PASSWORD)
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.add_user(sqlite_store, "pc-1", "guardian", PASSWORD)


def test_failed_logins_are_counted_and_audited_once_each(store: Store) -> None:
    accounts.add_user(store, "pc-2", "police", PASSWORD)
    results = [accounts.authenticate(store, "pc-2", "wrong password!!", client="10.0.0.9")
               for _ in range(accounts.FREE_FAILURES + 2)]
    assert [r.reason for r in results] == ["password"] * (accounts.FREE_FAILURES + 2)
    u = schema.users
    with store.connect() as conn:
        assert conn.execute(sa.select(u.c.failed_logins)).scalar_one() == 7
    # the lock-out is the app's (per name and address): the right password still works here
    ok = accounts.authenticate(store, "pc-2", PASSWORD, client="10.0.0.9")
    assert ok.user is not None and ok.user.role == "police"
    with store.connect() as conn:
        assert conn.execute(sa.select(u.c.failed_logins, u.c.locked_until)).one() == (0, None)
        rows = audit.query(conn, action="login")
    assert list(rows["outcome"]) == ["ok"] + ["failed"] * 7  # newest first
    assert set(rows["client"]) == {"10.0.0.9"} and set(rows["user_name"]) == {"pc-2"}


def test_no_transaction_is_open_while_a_password_is_checked(sqlite_store: Store) -> None:
    """A writer gets the database while a sign-in waits for, or spends, its argon2 time."""
    accounts.add_user(sqlite_store, "pc-4", "police", PASSWORD)
    for _ in range(accounts.HASH_SLOTS):  # every hashing slot taken: the check has to wait
        accounts._hashing.acquire()
    try:
        signing_in = threading.Thread(
            target=accounts.authenticate, args=(sqlite_store, "pc-4", PASSWORD))
        signing_in.start()
        time.sleep(0.3)  # it has read the user's row and waits to check the password
        writer = threading.Thread(target=audit.record, args=(sqlite_store,),
                                  kwargs={"action": "read_place", "user_name": "ana"})
        writer.start()
        writer.join(timeout=5)
        blocked = writer.is_alive()
    finally:
        for _ in range(accounts.HASH_SLOTS):
            accounts._hashing.release()
    signing_in.join(timeout=30)
    writer.join(timeout=30)
    assert not blocked, "a write waited for a password check"
    with sqlite_store.connect() as conn:
        assert set(audit.query(conn)["action"]) == {"read_place", "login"}


def test_a_lock_left_by_an_older_version_is_ignored(sqlite_store: Store) -> None:
    accounts.add_user(sqlite_store, "pc-3", "police", PASSWORD)
    with sqlite_store.begin() as conn:
        conn.execute(sa.update(schema.users).values(
            failed_logins=9, locked_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
    assert accounts.authenticate(sqlite_store, "pc-3", PASSWORD).reason == "ok"


def test_unknown_user_and_disabled_user(sqlite_store: Store) -> None:
    assert accounts.authenticate(sqlite_store, "ghost", PASSWORD).reason == "unknown"
    user = accounts.add_user(sqlite_store, "vol-1", "guardian", PASSWORD)
    token, _ = accounts.start_session(sqlite_store, user, kind="cookie", hours=1)
    accounts.set_disabled(sqlite_store, "vol-1")
    assert accounts.authenticate(sqlite_store, "vol-1", PASSWORD).reason == "disabled"
    assert accounts.find_session(sqlite_store, token, kind="cookie") is None


def test_expired_and_revoked_sessions_are_dead(sqlite_store: Store) -> None:
    user = accounts.add_user(sqlite_store, "ana2", "analyst", PASSWORD)
    old, _ = accounts.start_session(sqlite_store, user, kind="bearer", hours=-0.01)
    assert accounts.find_session(sqlite_store, old, kind="bearer") is None
    live, _ = accounts.start_session(sqlite_store, user, kind="bearer", hours=1)
    accounts.end_session(sqlite_store, live)
    assert accounts.find_session(sqlite_store, live, kind="bearer") is None


def test_audit_log_is_append_only(store: Store) -> None:
    audit.record(store, action="read_place", user_name="ana", role="analyst",
                 object_type="place", object_ids=["P1", "P12"], client="127.0.0.1")
    table = schema.audit_log
    for statement in (sa.update(table).values(user_name="someone else"), sa.delete(table)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.begin() as conn:
            conn.execute(statement)
    with store.connect() as conn:
        rows = audit.query(conn)
    assert len(rows) == 1 and rows.iloc[0]["user_name"] == "ana"


def test_audit_query_matches_whole_ids(store: Store) -> None:
    audit.record(store, action="read_place", object_type="place", object_ids=["P1", "P12"])
    audit.record(store, action="read_place", object_type="place", object_ids=["P123"])
    audit.record(store, action="export", user_name="bob", purpose="JAG", object_ids=["x_%"])
    with store.connect() as conn:
        assert len(audit.query(conn, object_id="P12")) == 1
        assert len(audit.query(conn, object_id="P1")) == 1
        assert len(audit.query(conn, object_id="x_%")) == 1
        assert len(audit.query(conn, object_id="x")) == 0
        assert list(audit.query(conn, user="bob")["purpose"]) == ["JAG"]
        assert len(audit.query(conn, since=dt.date.today() + dt.timedelta(days=1))) == 0


def test_audit_refuses_unknown_actions(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match="unknown action"):
        audit.record(sqlite_store, action="peek")


def test_imports_are_audited_with_their_actor(sqlite_store: Store, tmp_path) -> None:
    from layers.records.importer import import_file
    from layers.store.engine import replace_areas
    from tests.api.conftest import PLACES, _write, make_areas

    replace_areas(sqlite_store, make_areas(), source="test")
    import_file(sqlite_store, "places", _write(tmp_path / "p.csv", PLACES), actor="cli:tester")
    with sqlite_store.connect() as conn:
        (row,) = audit.query(conn, action="import").itertuples()
    assert (row.user_name, row.object_type, row.object_ids) == ("cli:tester", "places", "p.csv")
    assert "inserted 5" in row.detail and "SECRET" not in row.detail
