"""Backups taken while the store is written to, restored on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from layers.records import read as records_read
from layers.records.importer import import_file
from layers.store import schema
from layers.store.backup import BackupError, backup, restore, table_counts
from layers.store.engine import Store, head_revision, open_store, replace_areas
from layers.store.summary import status
from tests.api.conftest import PLACES, REPORTS, _write, make_areas
from tests.conftest import PG_ADMIN_URL, missing

BATCH = 40


def batch(tag: int) -> list[dict]:
    return [{"report_id": f"B{tag}-{j}", "reported_on": "2025-06-01", "latitude": 54.57,
             "longitude": -1.33 + j / 10_000, "mace_level": 2} for j in range(BATCH)]


def filled(store: Store, folder: Path) -> Store:
    replace_areas(store, make_areas(), source="test")
    for kind, rows in (("places", PLACES), ("reports", REPORTS)):
        assert import_file(store, kind, _write(folder / f"{kind}.csv", rows)).rejected == 0
    return store


def report_ids(store: Store) -> set[str]:
    with store.connect() as conn:
        return set(conn.scalars(sa.select(schema.reports.c.source_id)))


class Writer(threading.Thread):
    """Imports one batch of reports after another, each in its own transaction."""

    def __init__(self, store: Store, folder: Path) -> None:
        super().__init__(name="writer")
        self.store, self.folder = store, folder
        self.committed = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                path = _write(self.folder / f"batch{self.committed}.csv", batch(self.committed))
                import_file(self.store, "reports", path)
                self.committed += 1
        except BaseException as exc:
            self.error = exc

    def wait_for(self, batches: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.committed < batches and self.error is None:
            assert time.monotonic() < deadline, "the writer is stuck"
            time.sleep(0.01)


def test_a_backup_taken_while_writing_is_consistent_and_restores(sqlite_store, tmp_path):
    store = filled(sqlite_store, tmp_path)
    writer = Writer(store, tmp_path)
    writer.start()
    try:
        writer.wait_for(3)
        info = backup(store, tmp_path / "during.bak")
        writer.wait_for(writer.committed + 3)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    with closing(sqlite3.connect(f"{info.path.as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        saved = {r[0] for r in conn.execute("SELECT source_id FROM reports")}
    done = (info.counts["reports"] - len(REPORTS)) // BATCH  # whole batches only: a prefix
    assert 3 <= done < writer.committed
    prefix = {f"B{b}-{j}" for b in range(done) for j in range(BATCH)}
    assert saved == prefix | {r["report_id"] for r in REPORTS}
    target = open_store(tmp_path / "restored.db")
    try:
        restored = restore(info.path, target)
        assert restored.counts == info.counts
    finally:
        target.close()
    again = open_store(tmp_path / "restored.db")
    try:
        assert report_ids(again) == saved
        with again.connect() as conn:
            assert records_read.places(conn).total == len(PLACES)
        assert status(again)
    finally:
        again.close()


def test_a_postgresql_backup_round_trips(postgresql_store, tmp_path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        missing("pg_dump and pg_restore (PostgreSQL client tools) are not installed")
    source = filled(postgresql_store, tmp_path)
    with source.connect() as conn:
        name = conn.scalar(sa.text("SELECT current_schema()"))
    info = backup(source, tmp_path / "pg.dump")
    assert info.dialect == "postgresql" and info.revision == head_revision()
    expected = table_counts(source)
    assert info.counts == expected
    url = source.engine.url.render_as_string(hide_password=False)
    source.close()
    admin = sa.create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # keep the original aside; restore into a fresh schema
            conn.execute(sa.text(f'ALTER SCHEMA "{name}" RENAME TO "{name}_old"'))
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        target = open_store(url)
        try:
            assert restore(info.path, target).counts == expected
            assert report_ids(target) == {r["report_id"] for r in REPORTS}
            with pytest.raises(BackupError, match="already holds data"):
                restore(info.path, target)
        finally:
            target.close()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}_old" CASCADE'))
        admin.dispose()


def test_a_postgresql_backup_is_not_restored_into_another_schema(postgresql_store, tmp_path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        missing("pg_dump and pg_restore (PostgreSQL client tools) are not installed")
    info = backup(postgresql_store, tmp_path / "pg.dump")
    sqlite = open_store(tmp_path / "x.db")
    try:
        with pytest.raises(BackupError, match="is a postgresql backup"):
            restore(info.path, sqlite)
    finally:
        sqlite.close()
    public = postgresql_store.engine.url.set(query={}).render_as_string(hide_password=False)
    other = open_store(public, upgrade=False)
    try:
        with pytest.raises(BackupError, match="holds schema t_"):
            restore(info.path, other)
    finally:
        other.close()


def foreign_sqlite(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (id integer)")
        conn.commit()
    return path


def unknown_revision(path: Path, store: Store) -> Path:
    backup(store, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
        conn.commit()
    return path


@pytest.mark.parametrize(("make", "match"), [
    (lambda p, s: p.write_text("report_id,reported_on\nR1,2025-01-01\n") and p,
     "neither a SQLite database nor a pg_dump"),
    (lambda p, s: foreign_sqlite(p), "no schema revision"),
    (lambda p, s: (p.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000), p)[1],
     "not a placerisk backup"),
    (unknown_revision, "does not know"),
    (lambda p, s: p.with_name("absent.bak"), "no such file"),
], ids=["csv", "foreign-sqlite", "garbage", "future-revision", "missing"])
def test_restore_refuses_what_is_not_a_placerisk_backup(sqlite_store, tmp_path, make, match):
    path = make(tmp_path / "suspect.bak", sqlite_store)
    target = open_store(tmp_path / "target.db")
    try:
        with pytest.raises(BackupError, match=match):
            restore(path, target)
        assert table_counts(target)["areas"] == 0
    finally:
        target.close()


def test_nothing_is_overwritten_without_force(sqlite_store, tmp_path):
    store = filled(sqlite_store, tmp_path)
    existing = tmp_path / "existing.bak"
    existing.write_text("keep me")
    with pytest.raises(BackupError, match="already exists.*--force"):
        backup(store, existing)
    assert existing.read_text() == "keep me"
    info = backup(store, existing, force=True)
    target = open_store(tmp_path / "busy.db")
    try:
        replace_areas(target, make_areas("2025"), source="other")
        with pytest.raises(BackupError, match="already holds data.*--force"):
            restore(info.path, target)
        assert set(read_vintages(target)) == {"2025"}
        restore(info.path, target, force=True)
        assert set(read_vintages(target)) == {"2024"}
        assert report_ids(target) == report_ids(store)
    finally:
        target.close()


def read_vintages(store: Store) -> list[str]:
    with store.connect() as conn:
        return list(conn.scalars(sa.select(schema.areas.c.vintage)))


def test_cli_backup_and_restore(sqlite_store, tmp_path):
    filled(sqlite_store, tmp_path)
    db = sqlite_store.engine.url.database
    file, copy = tmp_path / "cli.bak", tmp_path / "copy.db"
    runner = CliRunner()
    done = runner.invoke(main, ["backup", str(file), "--db", db])
    assert done.exit_code == 0, done.output
    assert "MB" in done.output and f"reports {len(REPORTS)}" in done.output
    done = runner.invoke(main, ["restore", str(file), "--db", str(copy), "--yes"])
    assert done.exit_code == 0, done.output
    assert f"places {len(PLACES)}" in done.output
    refused = runner.invoke(main, ["restore", str(file), "--db", str(copy), "--yes"])
    assert refused.exit_code == 1 and "--force" in refused.output
    forced = runner.invoke(main, ["restore", str(file), "--db", str(copy), "--force", "--yes"])
    assert forced.exit_code == 0, forced.output
    bad = runner.invoke(main, ["restore", str(tmp_path / "places.csv"), "--db", str(copy), "--yes"])
    assert bad.exit_code == 1 and "not a placerisk backup" in bad.output
    again = runner.invoke(main, ["backup", str(file), "--db", db])
    assert again.exit_code == 1 and "already exists" in again.output
    restored = open_store(copy)
    try:
        assert report_ids(restored) == {r["report_id"] for r in REPORTS}
        with restored.connect() as conn:
            actions = list(conn.scalars(sa.select(schema.audit_log.c.action).where(
                schema.audit_log.c.object_type == "database")))
        assert actions == ["import"]  # the forced restore, audited (replacing the first's)
    finally:
        restored.close()


# --- which database a restore replaces: named, confirmed, never the environment's by mistake

@pytest.fixture
def backup_file(sqlite_store, tmp_path) -> Path:
    """A backup of the five test places, and a live PLACERISK_DB store with other data."""
    filled(sqlite_store, tmp_path)
    return backup(sqlite_store, tmp_path / "cli.bak").path


def live_store(folder: Path) -> Path:
    """The store PLACERISK_DB names: one ward set of its own, which a restore must not touch."""
    live = folder / "live.db"
    store = open_store(live)
    try:
        replace_areas(store, make_areas("2025"), source="live")
    finally:
        store.close()
    return live


def vintages_in(db: Path) -> set[str]:
    store = open_store(db)
    try:
        return set(read_vintages(store))
    finally:
        store.close()


RESTORE_CHOICES = {
    "env-only": ([], [], "live.db"),
    "group-option-and-env": (["--db", "restored.db"], [], "restored.db"),
    "command-option-and-env": ([], ["--db", "restored.db"], "restored.db"),
    "both-options-agree": (["--db", "restored.db"], ["--db", "restored.db"], "restored.db"),
}


@pytest.mark.parametrize("choice", RESTORE_CHOICES.values(), ids=RESTORE_CHOICES.keys())
def test_restore_goes_where_the_options_say(backup_file, tmp_path, monkeypatch, choice):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLACERISK_DB", str(live_store(tmp_path)))
    before, after, expected = choice
    done = CliRunner().invoke(main, [*before, "restore", str(backup_file), "--force", "--yes",
                                     *after])
    assert done.exit_code == 0, done.output
    assert f"restored into sqlite:///{tmp_path / expected}" in done.output
    assert vintages_in(tmp_path / expected) == {"2024"}  # the backup's wards
    if expected != "live.db":
        assert vintages_in(tmp_path / "live.db") == {"2025"}  # untouched


def test_restore_refuses_two_different_db_options(backup_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLACERISK_DB", str(live_store(tmp_path)))
    done = CliRunner().invoke(main, ["--db", "a.db", "restore", str(backup_file), "--yes",
                                     "--force", "--db", "b.db"])
    assert done.exit_code == 2 and "a.db" in done.output and "b.db" in done.output
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()
    assert vintages_in(tmp_path / "live.db") == {"2025"}


def test_restore_without_a_terminal_needs_yes(backup_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLACERISK_DB", str(live_store(tmp_path)))
    done = CliRunner().invoke(main, ["restore", str(backup_file), "--force"])
    assert done.exit_code == 1
    assert f"sqlite:///{tmp_path / 'live.db'}" in done.output  # names what it would replace
    assert "--yes" in done.output
    assert vintages_in(tmp_path / "live.db") == {"2025"}
    done = CliRunner().invoke(main, ["--db", "new.db", "restore", str(backup_file)])
    assert done.exit_code == 1 and "--yes" in done.output
    assert not (tmp_path / "new.db").exists()  # not even created


def read_until(fd: int, marker: bytes | None) -> bytes:
    """What a pseudo-terminal shows up to ``marker``, or until the process has gone."""
    import os

    seen = b""
    while marker is None or marker not in seen:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # Linux: EIO once the process closed its end
            break
        if not chunk:
            break
        seen += chunk
    return seen


def run_in_terminal(args: list[str], answer: str, cwd: Path) -> tuple[int, str]:
    """Run the installed ``placerisk`` on a pseudo-terminal, typing ``answer`` when asked."""
    import os
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    exe = Path(sys.executable).with_name("placerisk")
    with subprocess.Popen([str(exe), *args], stdin=secondary, stdout=secondary,
                          stderr=secondary, cwd=cwd, close_fds=True) as proc:
        os.close(secondary)
        seen = read_until(primary, b"[y/N]")
        if b"[y/N]" in seen:
            os.write(primary, answer.encode() + b"\n")
            seen += read_until(primary, None)
        code = proc.wait(timeout=60)
    os.close(primary)
    return code, seen.decode(errors="replace")


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a POSIX terminal")
def test_restore_on_a_terminal_names_the_target_and_asks(backup_file, tmp_path, monkeypatch):
    monkeypatch.setenv("PLACERISK_DB", str(live_store(tmp_path)))
    code, shown = run_in_terminal(["restore", str(backup_file), "--force"], "n", tmp_path)
    assert code == 1, shown
    assert f"sqlite:///{tmp_path / 'live.db'}" in shown and "nothing restored" in shown
    assert vintages_in(tmp_path / "live.db") == {"2025"}
    code, shown = run_in_terminal(["restore", str(backup_file), "--force"], "y", tmp_path)
    assert code == 0, shown
    assert vintages_in(tmp_path / "live.db") == {"2024"}
