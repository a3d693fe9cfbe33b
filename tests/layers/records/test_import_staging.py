"""A long import holds no write lock while it reads: other writers go through meanwhile.

Issue 11 item 2: a 300k-row import held SQLite's write lock for 21.6 s and an audited read
(which writes its audit row) failed after the 10 s busy timeout. An import now stages its
chunks in temporary tables of its own connection and takes the write lock only at the end.
Each test runs code between two chunks of an import, through a wrapped chunk reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from layers.records import importer as loader
from layers.records.importer import ImportFileError, import_file
from layers.store import audit, schema
from layers.store.engine import Store
from tests.api.conftest import _write
from tests.layers.records.test_import_atomic import reports_csv, seeded, state


def between_chunks(monkeypatch: pytest.MonkeyPatch, hook: Callable[[int], None]) -> list[int]:
    """Call ``hook(attempt)`` after the first chunk of every attempt has been staged.

    Imports the hook runs itself are not counted as attempts (nor hooked).
    """
    real = loader._read_own_format
    attempts: list[int] = []
    inside = []

    def reader(*args, **kwargs):
        if inside:
            yield from real(*args, **kwargs)
            return
        attempts.append(len(attempts) + 1)
        for i, chunk in enumerate(real(*args, **kwargs)):
            if i == 1:
                inside.append(True)
                try:
                    hook(attempts[-1])
                finally:
                    inside.clear()
            yield chunk

    monkeypatch.setattr(loader, "_read_own_format", reader)
    return attempts


def stored_ids(store: Store) -> set[str]:
    with store.connect() as conn:
        return set(conn.scalars(sa.select(schema.reports.c.source_id)))


def test_a_writer_needs_no_wait_while_an_import_reads(sqlite_store: Store, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    store = sqlite_store
    before = seeded(store, tmp_path)
    seen: dict[str, object] = {}

    def meanwhile(_attempt: int) -> None:
        # timeout=0: "database is locked" at once if the import held the write lock
        with closing(sqlite3.connect(store.engine.url.database, timeout=0,
                                     isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with store.begin() as conn:  # an audited read's audit row
            audit.record(conn, action="read_place", user_name="analyst", object_type="place",
                         object_ids=["P1"], detail="during an import")
        seen["ids"] = stored_ids(store)

    between_chunks(monkeypatch, meanwhile)
    path = reports_csv(tmp_path / "big.csv", 300)
    result = import_file(store, "reports", path, chunk_rows=100)
    assert result.inserted == 300
    assert seen["ids"] == {f"S{i}" for i in range(10)}, "a reader saw part of the import"
    counts, _ = state(store)
    assert counts["reports"] == before[0]["reports"] + 300
    assert counts["audit_log"] == before[0]["audit_log"] + 2  # the read's and the import's


def test_an_import_is_invisible_until_complete(store: Store, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seeded(store, tmp_path)
    seen: list[set[str]] = []
    between_chunks(monkeypatch, lambda _a: seen.append(stored_ids(store)))
    import_file(store, "reports", reports_csv(tmp_path / "big.csv", 250), chunk_rows=100)
    assert seen == [{f"S{i}" for i in range(10)}]
    assert len(stored_ids(store)) == 260


def test_rows_changed_meanwhile_make_the_import_read_again(store: Store, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    seeded(store, tmp_path)
    rows = [{"report_id": f"S{i}", "reported_on": "2025-06-02", "latitude": 54.57,
             "longitude": -1.33, "mace_level": 4} for i in range(10)]
    rows += [{"report_id": f"N{i}", "reported_on": "2025-06-02", "latitude": 54.57,
              "longitude": -1.33, "mace_level": 1} for i in range(10, 20)]
    path = _write(tmp_path / "update.csv", rows)
    other = _write(tmp_path / "other.csv", [
        {"report_id": "S0", "reported_on": "2025-06-01", "latitude": 54.57,
         "longitude": -1.33, "mace_level": 3},
        {"report_id": "N15", "reported_on": "2025-06-01", "latitude": 54.57,
         "longitude": -1.33, "mace_level": 3}])

    def meanwhile(attempt: int) -> None:
        if attempt == 1:  # another user updates S0 after this import compared it, and adds
            assert import_file(store, "reports", other).inserted == 1  # N15 before it does

    attempts = between_chunks(monkeypatch, meanwhile)
    result = import_file(store, "reports", path, chunk_rows=5)
    assert attempts == [1, 2]
    assert (result.inserted, result.updated) == (9, 11)
    t = schema.reports
    with store.connect() as conn:
        levels = dict(conn.execute(sa.select(t.c.source_id, t.c.mace_level)).all())
        imports = conn.scalar(sa.select(sa.func.count()).select_from(schema.imports))
    assert levels["S0"] == 4 and levels["N15"] == 1 and levels["N19"] == 1
    assert imports == 3  # the seed, the other user's and this one, each once


def test_an_import_that_keeps_losing_the_race_writes_nothing(store: Store, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    seeded(store, tmp_path)
    path = reports_csv(tmp_path / "big.csv", 30, prefix="S")  # updates S0..S9, adds S10..
    level = iter(range(1, 1000))

    def meanwhile(_attempt: int) -> None:
        t = schema.reports
        with store.begin() as conn:
            conn.execute(sa.update(t).where(t.c.source_id == "S1")
                         .values(mace_level=next(level) % 4 + 1, updated_at=sa.func.now()))

    between_chunks(monkeypatch, meanwhile)
    before = state(store)
    with pytest.raises(ImportFileError, match="other users changed the same records"):
        import_file(store, "reports", path, chunk_rows=5)
    after = state(store)
    assert after[0] == before[0]
    assert not list(tmp_path.glob("*.rejects.csv*"))


def test_a_record_added_meanwhile_is_updated_not_inserted_twice(store: Store, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    seeded(store, tmp_path)
    path = reports_csv(tmp_path / "new.csv", 20, prefix="A")
    other = reports_csv(tmp_path / "other.csv", 2, prefix="A")  # A0 and A1, as in new.csv

    def meanwhile(attempt: int) -> None:
        if attempt == 1:
            assert import_file(store, "reports", other).inserted == 2

    attempts = between_chunks(monkeypatch, meanwhile)
    result = import_file(store, "reports", path, chunk_rows=5)
    assert attempts == [1, 2]
    assert (result.inserted, result.updated + result.unchanged) == (18, 2)
    assert len(stored_ids(store)) == 30
