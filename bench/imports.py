"""Benchmark how long a big import keeps other writers waiting (issue 11 item 2).

What is measured
----------------
A synthetic 300,000-row reports CSV (seeded, in Stockton-on-Tees) is imported into a fresh
SQLite store holding the real 2024 Stockton wards. Meanwhile a probe thread writes one row
every 20 ms in a transaction of its own (``BEGIN IMMEDIATE``, as an audited read's audit row
does) and records how long each write waited for the lock.

* ours: the longest wait of the probe while `layers.records.importer.import_file` runs. The import
  stages its chunks in temporary tables and takes the write lock once, at the end.
* baseline: the import's own duration, measured in the same run: what an import that runs in
  one write transaction (as placerisk's did before) keeps every other writer waiting, since
  it takes the lock at its start and holds it until it commits.

The rows stored must be the 300,000 of the file (checked and reported as ``identical``).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.boundaries import read_boundaries  # noqa: E402
from layers.records.importer import import_file  # noqa: E402
from layers.store.engine import open_store, replace_areas  # noqa: E402

WARDS = ROOT / "data" / "boundaries" / "stockton_wards_2024.geojson"
N_ROWS = 300_000
PROBE_EVERY_S = 0.02


def _reports_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(20240601)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    pd.DataFrame({
        "report_id": [f"B{i}" for i in range(n)],
        "reported_on": days.strftime("%Y-%m-%d"),
        "latitude": np.round(rng.uniform(54.53, 54.60, n), 5),
        "longitude": np.round(rng.uniform(-1.38, -1.28, n), 5),
        "mace_level": rng.integers(1, 5, n),
    }).to_csv(path, index=False)
    return path


class _Probe(threading.Thread):
    """Writes a row every 20 ms in its own IMMEDIATE transaction; keeps every wait."""

    def __init__(self, db: str) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.waits: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with closing(sqlite3.connect(self.db, timeout=120, isolation_level=None)) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_probe (at REAL)")
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("INSERT INTO bench_probe VALUES (?)", (started,))
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:  # reported, not raised: the bench goes on
                    self.errors.append(str(exc))
                self.waits.append(time.perf_counter() - started)
                self.stop.wait(PROBE_EVERY_S)


def bench_import_lock(n: int = N_ROWS) -> dict[str, Any]:
    """Import ``n`` reports with a probe writer running; return one results row."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = open_store(folder / "bench.db")
        replace_areas(store, read_boundaries(WARDS).areas, source="bench")
        path = _reports_csv(folder / "reports.csv", n)
        probe = _Probe(str(folder / "bench.db"))
        probe.start()
        time.sleep(0.2)
        started = time.perf_counter()
        result = import_file(store, "reports", path)
        took = time.perf_counter() - started
        probe.stop.set()
        probe.join()
        store.close()
    waits = np.array(probe.waits)
    longest = float(waits.max())
    return {
        "name": f"import_lock_wait_{n // 1000}k",
        "n": n,
        "ours_s": longest,
        "baseline_s": took,
        "ratio": took / longest,
        "identical": result.inserted == n and result.rejected == 0 and not probe.errors,
        "probe_writes": len(waits),
        "probe_p95_s": float(np.percentile(waits, 95)),
        "notes": "ours: the longest wait of a writer (every 20 ms) during a staged import; "
        "baseline: the import's duration, which a one-transaction import holds the lock for",
    }


if __name__ == "__main__":
    row = bench_import_lock(int(sys.argv[1]) if len(sys.argv) > 1 else N_ROWS)
    print(row)
