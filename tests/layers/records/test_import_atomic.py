"""An import is one transaction: killed or failing halfway, it leaves the database as it was."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from layers.records import importer as loader
from layers.records.importer import import_file
from layers.store import schema
from layers.store.backup import table_counts
from layers.store.engine import Store, open_store, replace_areas
from tests.api.conftest import _write, make_areas
from tests.conftest import ROOT

SEED = [{"report_id": f"S{i}", "reported_on": "2025-06-01", "latitude": 54.57,
         "longitude": -1.33, "mace_level": 2} for i in range(10)]


def reports_csv(path: Path, n: int, prefix: str = "K") -> Path:
    rng = np.random.default_rng(7)
    pd.DataFrame({
        "report_id": [f"{prefix}{i}" for i in range(n)], "reported_on": "2025-06-01",
        "latitude": np.round(rng.uniform(54.55, 54.60, n), 5),
        "longitude": np.round(rng.uniform(-1.35, -1.30, n), 5),
        "mace_level": rng.integers(1, 5, n),
    }).to_csv(path, index=False)
    return path


def state(store: Store) -> tuple[dict[str, int], list[tuple]]:
    """Every table's row count (the audit log's too) and every stored report."""
    counts = table_counts(store)
    t = schema.reports
    with store.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]
    return counts, rows


def seeded(store: Store, folder: Path) -> tuple[dict[str, int], list[tuple]]:
    replace_areas(store, make_areas(), source="test")
    assert import_file(store, "reports", _write(folder / "seed.csv", SEED)).rejected == 0
    return state(store)


def cli() -> list[str]:
    """The installed ``placerisk`` script beside this interpreter, else the same entry point."""
    script = Path(sys.executable).with_name("placerisk")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from api.cli import main; main()"]


def wait_for_writes(proc: subprocess.Popen, wal: Path, *, grown: int, timeout: float) -> None:
    """Return once the import has spilled ``grown`` bytes of its transaction into the WAL."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the import finished before it could be killed"
        if wal.exists() and wal.stat().st_size > grown:
            return
        time.sleep(0.01)
    pytest.fail(f"the import wrote nothing to {wal} within {timeout} s")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_an_import_killed_halfway_leaves_the_database_as_before(tmp_path):
    db = tmp_path / "killed.db"
    store = open_store(db)
    try:
        before = seeded(store, tmp_path)
    finally:
        store.close()
    big = reports_csv(tmp_path / "big.csv", 300_000)
    wal = db.with_name(db.name + "-wal")
    proc = subprocess.Popen([*cli(), "import", "reports", str(big), "--db", str(db)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_writes(proc, wal, grown=256 * 1024, timeout=120)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert wal.stat().st_size > 256 * 1024  # uncommitted pages were on disk when it died
    store = open_store(db)
    try:
        assert state(store) == before
    finally:
        store.close()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_an_import_failing_on_the_third_chunk_writes_nothing(store, tmp_path, monkeypatch):
    before = seeded(store, tmp_path)
    spec = loader.KINDS["reports"]
    calls = []

    def parse_then_fail(raw, rows):
        calls.append(len(raw))
        if len(calls) == 3:
            raise RuntimeError("parser failed on chunk 3")
        return spec.parse(raw, rows)

    monkeypatch.setitem(loader.KINDS, "reports",
                        dataclasses.replace(spec, parse=parse_then_fail))
    path = reports_csv(tmp_path / "five_chunks.csv", 500)
    with pytest.raises(RuntimeError, match="chunk 3"):
        import_file(store, "reports", path, chunk_rows=100)
    assert calls == [100, 100, 100]
    assert state(store) == before
    monkeypatch.setitem(loader.KINDS, "reports", spec)  # the write lock was released:
    assert import_file(store, "reports", path, chunk_rows=100).inserted == 500
