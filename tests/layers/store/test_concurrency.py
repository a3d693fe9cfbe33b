"""Concurrent writers on one SQLite file: imports, reads and scoring at once lose nothing."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.records import read as records_read
from layers.records.importer import import_file
from layers.store import schema
from layers.store.backup import table_counts
from layers.store.engine import Store, replace_areas
from layers.store.summary import status
from tests.api.conftest import _write, make_areas

AS_OF = dt.date(2025, 6, 30)
FILES_PER_WRITER = 3
ROWS = {"reports": 300, "places": 150}
CATEGORIES = ("shop", "takeaway", "park", "youth_club", "other")


def rows(kind: str, tag: str) -> list[dict]:
    n = ROWS[kind]
    where = [(54.551 + 0.048 * (i % 97) / 97, -1.349 + 0.048 * (i % 89) / 89) for i in range(n)]
    if kind == "places":
        return [{"place_id": f"{tag}-{i}", "name": f"Place {tag}-{i}",
                 "category": CATEGORIES[i % 5], "latitude": lat, "longitude": lng,
                 "mace_level": 1 + i % 4} for i, (lat, lng) in enumerate(where)]
    return [{"report_id": f"{tag}-{i}", "reported_on": str(AS_OF - dt.timedelta(days=i % 200)),
             "latitude": lat, "longitude": lng, "mace_level": 1 + i % 4}
            for i, (lat, lng) in enumerate(where)]


class Crew:
    """Threads that start together and record every exception they meet."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def add(self, name: str, work: Callable[[], object]) -> None:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # every failure is reported, none is lost
                self.errors.append(f"{name}: {exc!r}")

        self.threads.append(threading.Thread(target=run, name=name))

    def run(self, writers: int, timeout: float) -> None:
        for thread in self.threads:
            thread.start()
        for thread in self.threads[:writers]:
            thread.join(timeout)
        self.stop.set()
        for thread in self.threads[writers:]:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a thread hung"


def importer(store: Store, kind: str, paths: list[Path]) -> Callable[[], None]:
    def work() -> None:
        for path in paths:
            result = import_file(store, kind, path)
            assert (result.inserted, result.rejected) == (ROWS[kind], 0), result.messages

    return work


def reader(store: Store, crew: Crew, done: list[int]) -> Callable[[], None]:
    def work() -> None:
        while not crew.stop.is_set():
            with store.connect() as conn:
                records_read.places(conn, limit=20)
                conn.scalar(sa.select(sa.func.count()).select_from(schema.reports))
            status(store)
            done.append(1)

    return work


def scorer(store: Store, runs: int) -> Callable[[], None]:
    def work() -> None:
        for _ in range(runs):
            run_scoring(store, ScoreParams(as_of=AS_OF, n_steps=8),
                        known_by=dt.datetime.now(dt.UTC))

    return work


def test_concurrent_imports_reads_and_scoring_lose_nothing(sqlite_store, tmp_path):
    store = sqlite_store
    replace_areas(store, make_areas(), source="test")
    import_file(store, "reports", _write(tmp_path / "seed.csv", rows("reports", "seed")))
    before = table_counts(store)
    crew, reads = Crew(), []
    kinds = ("reports", "reports", "places", "places")
    for w, kind in enumerate(kinds):
        paths = [_write(tmp_path / f"{kind}-{w}-{f}.csv", rows(kind, f"w{w}f{f}"))
                 for f in range(FILES_PER_WRITER)]
        crew.add(f"import-{w}", importer(store, kind, paths))
    crew.add("score", scorer(store, runs=2))
    crew.add("read-1", reader(store, crew, reads))
    crew.add("read-2", reader(store, crew, reads))
    started = time.perf_counter()
    crew.run(writers=len(kinds) + 1, timeout=60)
    elapsed = time.perf_counter() - started
    assert crew.errors == []
    after = table_counts(store)
    for kind in ("reports", "places"):
        expected = before[kind] + kinds.count(kind) * FILES_PER_WRITER * ROWS[kind]
        assert after[kind] == expected, kind
    assert after["imports"] == before["imports"] + len(kinds) * FILES_PER_WRITER
    assert after["score_runs"] == before["score_runs"] + 2
    assert reads, "the readers never completed a pass"
    written = sum(after[k] - before[k] for k in ("reports", "places"))
    print(f"{written} rows in {len(kinds) * FILES_PER_WRITER} imports by {len(kinds)} threads, "
          f"2 scoring runs and {len(reads)} reads in {elapsed:.1f} s: "
          f"{written / elapsed:.0f} rows/s")


def test_a_write_transaction_holds_the_write_lock_from_its_start(sqlite_store):
    db = sqlite_store.engine.url.database
    with sqlite_store.begin() as conn:
        conn.execute(sa.select(1))  # only a read so far, yet the write lock is taken
        with closing(sqlite3.connect(db, timeout=0, isolation_level=None)) as other:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    with sqlite_store.connect() as conn:  # a read does not block writers
        conn.execute(sa.select(1))
        with closing(sqlite3.connect(db, timeout=0, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
