"""Benchmark the hot spot engine against esda and pymannkendall, in the same run.

What is measured
----------------
1,000,000 synthetic concern reports over 104 weeks in Stockton-on-Tees and Hartlepool (the
real 2024 and 2013 ward boundaries from ../shared/data, H3 resolution 9, a study grid of about
3,500 cells; reports skewed towards 300 hot cells, 10% patrol-discovered).

* ours: weighted events, the sparse space-time cube, Gi* for every step with the
  Benjamini-Hochberg correction, the vectorised Mann-Kendall of every cell's z series and the
  emerging hot spot categories (``layers.hotspots.engine`` building blocks), timed together. Peak
  memory is read in a separate process that runs only this.
* baseline: the same cube with a pandas pivot over the whole grid, ``esda.G_Local(y, w,
  transform="B", star=True)`` looped over the steps with libpysal weights from the same H3
  neighbourhood, and ``pymannkendall.original_test`` looped over the cells. Two rows: esda as
  people call it (``permutations=999``, its default, which also computes pseudo p-values)
  and esda's analytical z only (``permutations=0``), the like-for-like statistic.

The z-scores and Mann-Kendall statistics must agree (checked and reported); the categories
need the z series only, so agreement of z and MK implies agreement of categories.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import h3index  # noqa: E402
from geo.boundaries import read_boundaries  # noqa: E402
from layers.hotspots import emerging, getis, trend  # noqa: E402
from layers.hotspots.cube import build_cube, make_steps  # noqa: E402
from layers.hotspots.cube_events import report_events  # noqa: E402
from layers.hotspots.weights import Weights  # noqa: E402

BOUNDARIES = ROOT.parent / "shared" / "data" / "boundaries"
FILES = ("stockton_wards_2024.geojson", "hartlepool_wards_2013.geojson")
AS_OF = dt.date(2025, 6, 29)
N_REPORTS = 1_000_000
SEED = 7


def study_grid() -> np.ndarray:
    """Resolution-9 cells touching the Stockton and Hartlepool wards."""
    geoms = [g for f in FILES for g in read_boundaries(BOUNDARIES / f).areas.geometry]
    return h3index.polygon_to_cells(shapely.union_all(geoms), resolution=9, contain="overlap")


def synthetic_reports(grid: np.ndarray, n: int = N_REPORTS) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    hot = rng.choice(grid, 300, replace=False)
    cells = np.where(rng.random(n) < 0.6, rng.choice(hot, n), rng.choice(grid, n))
    start = np.datetime64(AS_OF, "D") - 104 * 7 + 1
    days = start + rng.integers(0, 104 * 7, n)
    return pd.DataFrame({"key": cells, "source_id": np.arange(n).astype(str),
                         "reported_on": days, "mace_level": rng.choice([2, 3, 4], n,
                                                                       p=[0.6, 0.3, 0.1]),
                         "patrol_discovered": rng.random(n) < 0.1})


def ours(grid: np.ndarray, reports: pd.DataFrame) -> dict[str, Any]:
    """The engine's building blocks, end to end."""
    steps = make_steps(AS_OF, count=104)
    cube = build_cube(report_events(reports, Weights()), steps)
    values = cube.values()
    gi = getis.gi_star(grid, cube.keys, values, k=1)
    sig = getis.significant(gi, alpha=0.05, method="fdr_bh")
    mk = trend.mann_kendall(gi.z)
    category = emerging.classify(gi.z, sig, trend=mk)
    return {"cells": gi.cells, "z": gi.z, "mk": mk, "category": category, "gi": gi}


def baseline(grid: np.ndarray, reports: pd.DataFrame, permutations: int) -> dict[str, Any]:
    """Dense pivot, esda.G_Local per step, pymannkendall per cell."""
    import esda
    import libpysal
    import pymannkendall

    steps = make_steps(AS_OF, count=104)
    weights = Weights()
    keep = ~reports["patrol_discovered"].to_numpy()
    frame = reports[keep]
    step = np.searchsorted(steps.starts, frame["reported_on"].to_numpy(), side="right") - 1
    weight = frame["mace_level"].map(weights.report_levels).to_numpy()
    cube = (pd.DataFrame({"cell": frame["key"].to_numpy(), "step": step, "w": weight})
            .groupby(["cell", "step"])["w"].sum().unstack(fill_value=0.0)
            .reindex(index=grid, columns=range(len(steps)), fill_value=0.0))
    names = h3index.cells_to_str(grid)
    index = {c: i for i, c in enumerate(names)}
    neighbours = {i: [index[n] for n in h3index.grid_disk(c, 1) if n in index and n != c]
                  for i, c in enumerate(names)}
    w = libpysal.weights.W(neighbours, silence_warnings=True)
    y = cube.to_numpy()
    z = np.empty_like(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(y.shape[1]):
            z[:, t] = esda.G_Local(y[:, t], w, transform="B", star=True,
                                   permutations=permutations).Zs
        mk = [pymannkendall.original_test(z[i]) for i in range(len(z))]
    return {"z": z, "mk": mk}


def agree(mine: dict[str, Any], ref: dict[str, Any], grid: np.ndarray) -> bool:
    rows = np.searchsorted(grid, mine["cells"])
    z_ok = np.allclose(mine["z"], ref["z"][rows], rtol=0, atol=1e-9)
    s_ref = np.array([ref["mk"][i].s for i in rows])
    p_ref = np.array([ref["mk"][i].p for i in rows])
    return bool(z_ok and np.array_equal(mine["mk"].s, s_ref)
                and np.allclose(mine["mk"].p, p_ref, atol=1e-9))


def peak_memory_mb() -> tuple[float, float]:
    """Run only our side in a fresh process: (peak MB allocated while scoring, peak RSS MB).

    The first figure is tracemalloc's peak during the scoring call (numpy's buffers
    included), the memory the engine itself needs; the second is the whole process's peak
    resident size, synthetic data and libraries included.
    """
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
    code = ("import sys, re, tracemalloc; sys.path.insert(0, 'bench'); import scoring as s; "
            "g = s.study_grid(); r = s.synthetic_reports(g); tracemalloc.start(); "
            "s.ours(g, r); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop(); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]; "
            "print(peak, hwm)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]) / 2**20, int(out[1]) / 1024


def bench_scoring() -> list[dict[str, Any]]:
    """Both rows of the scoring benchmark."""
    grid = study_grid()
    reports = synthetic_reports(grid)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        mine = ours(grid, reports)
        times.append(time.perf_counter() - started)
    ours_s = min(times)
    traced, rss = peak_memory_mb()
    rows = []
    for permutations, name in ((999, "scoring_1M_esda_default"), (0, "scoring_1M_esda_analytic")):
        started = time.perf_counter()
        ref = baseline(grid, reports, permutations)
        base_s = time.perf_counter() - started
        rows.append({"name": name, "n": len(reports), "ours_s": ours_s, "baseline_s": base_s,
                     "ratio": base_s / ours_s, "identical": agree(mine, ref, grid),
                     "grid_cells": len(grid), "support_cells": len(mine["cells"]),
                     "steps": 104, "esda_permutations": permutations,
                     "ours_peak_traced_mb": round(traced, 1),
                     "process_peak_rss_mb": round(rss, 1)})
    return rows


if __name__ == "__main__":
    print(json.dumps(bench_scoring(), indent=2, default=float))
