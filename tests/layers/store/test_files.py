"""Files holding store data are private: the database and its WAL and shared memory, backups,
exports and rejects files are created 0600, and existing ones lose any access by others."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from layers.records.importer import import_file
from layers.reporting import export_files as export_io
from layers.reporting import export_inputs
from layers.store.backup import backup
from layers.store.engine import Store, open_store, replace_areas
from tests.api.conftest import PLACES, _write, build_store, make_areas

pytestmark = pytest.mark.skipif(os.name != "posix",
                                reason="file modes are POSIX; Windows uses ACLs")

PRIVATE = 0o600
WORLD_READABLE = 0o644


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask of most accounts (022), under which files come out world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_sqlite_store_and_its_wal_are_private(tmp_path):
    db = tmp_path / "new.db"
    store = open_store(db)
    try:
        replace_areas(store, make_areas(), source="test")
        with store.connect() as conn:  # a connection keeps the WAL and shared memory
            conn.execute(sa.text("SELECT 1"))
            files = [db, db.with_name("new.db-wal"), db.with_name("new.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: PRIVATE for f in files}
    finally:
        store.close()


def test_an_existing_world_readable_store_is_closed_to_others(tmp_path):
    db = tmp_path / "old.db"
    open_store(db).close()
    db.chmod(WORLD_READABLE)  # as placerisk made it before
    store = open_store(db)
    try:
        with store.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            for path in (db, db.with_name("old.db-wal"), db.with_name("old.db-shm")):
                assert mode(path) & 0o007 == 0, path.name
    finally:
        store.close()


@pytest.fixture
def filled(tmp_path) -> Iterator[Store]:
    store = open_store(tmp_path / "filled.db")
    replace_areas(store, make_areas(), source="test")
    assert import_file(store, "places", _write(tmp_path / "places.csv", PLACES)).rejected == 0
    yield store
    store.close()


def test_a_sqlite_backup_is_private(filled, tmp_path):
    assert mode(backup(filled, tmp_path / "new.bak").path) == PRIVATE
    replaced = tmp_path / "old.bak"
    replaced.write_text("an older backup")
    replaced.chmod(WORLD_READABLE)
    assert mode(backup(filled, replaced, force=True).path) == PRIVATE


@pytest.mark.postgres
def test_a_postgresql_backup_is_private(postgresql_store, tmp_path):
    replace_areas(postgresql_store, make_areas(), source="test")
    assert mode(backup(postgresql_store, tmp_path / "pg.bak").path) == PRIVATE


def test_a_rejects_file_is_private(filled, tmp_path):
    bad = _write(tmp_path / "bad.csv", [{**PLACES[0], "place_id": "B1", "mace_level": 9}])
    stale = tmp_path / "bad.rejects.csv.partial"  # left by an import that was killed
    stale.write_text("row,reason\n")
    stale.chmod(WORLD_READABLE)
    result = import_file(filled, "places", bad)
    assert result.rejects_path is not None and mode(result.rejects_path) == PRIVATE


@pytest.fixture(scope="module")
def places_frame(tmp_path_factory: pytest.TempPathFactory):
    db = build_store(tmp_path_factory.mktemp("modes"), score=False)
    store = open_store(db)
    try:
        with store.connect() as conn:
            return export_inputs.load_export(conn, "places")
    finally:
        store.close()


@pytest.mark.parametrize("fmt", list(export_io.FORMATS))
def test_an_export_file_is_private(places_frame, tmp_path, fmt):
    written = export_io.write_export(places_frame, tmp_path / f"places.{fmt}", fmt)
    assert mode(written) == PRIVATE
    assert [p.name for p in tmp_path.iterdir()] == [written.name]  # nothing left beside it


@pytest.mark.parametrize("fmt", list(export_io.FORMATS))
def test_an_export_replacing_a_world_readable_file_closes_it(places_frame, tmp_path, fmt):
    path = tmp_path / f"places.{fmt}"
    export_io.write_export(places_frame, path, fmt)
    path.chmod(WORLD_READABLE)
    export_io.write_export(places_frame, path, fmt, layer="again")  # GeoPackage: a 2nd layer
    assert mode(path) & 0o007 == 0
