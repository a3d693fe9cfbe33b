"""Benchmark placerisk's H3 + ward indexing against the idiomatic GeoPandas way.

What is measured
----------------
Synthetic points (seeded) in the Stockton-on-Tees area: about 97% inside the real 2024
Stockton wards and 3% outside them (drawn uniformly from the wards' bounding box, then mixed
to that ratio). For each point we need its H3 cell at resolution 9 (as a hex string) and the
code of the ward containing it, with points outside every ward kept and flagged.

* ours: ``geo.h3index.latlng_to_cells`` + ``cells_to_str`` + building a ``geo.wards.WardIndex``
  + ``WardIndex.assign(lat, lng, cells=cells)``. Building the index is timed too, because a
  caller who loads new boundaries pays for it.
* baseline: a per-row ``h3.latlng_to_cell`` list comprehension, building a points
  GeoDataFrame with ``points_from_xy`` and ``geopandas.sjoin(..., how="left",
  predicate="within")``: what most people would write first.

Both sides run in the same process on the same arrays; each is timed with
``time.perf_counter`` and the best of three repeats is kept, because the machine is shared
and noisy. The results must be identical (same cells, same ward codes, ``None`` == NaN for
points outside); the check is reported, not assumed.

Why: ``STYLE.md`` asks for performance to live in a benchmark that measures the naive
approach in the same run, instead of timed assertions in tests.

Run ``.venv/bin/python bench/run.py`` from the repository root (``make bench``). It prints a
table and writes ``bench/results.json``. Without ``../shared/data`` it says so and exits 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.boundaries import read_boundaries  # noqa: E402
from geo.crs import WGS84  # noqa: E402
from geo.h3index import cells_to_str, latlng_to_cells  # noqa: E402
from geo.wards import WardIndex  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imports import bench_import_lock  # noqa: E402
from load import bench_load, print_rows  # noqa: E402
from map_sizes import bench_maps  # noqa: E402
from outcomes import bench_outcome_table  # noqa: E402
from scoring import bench_scoring  # noqa: E402
from synthetic import synthetic_points  # noqa: E402

WARDS_FILE = ROOT.parent / "shared" / "data" / "boundaries" / "stockton_wards_2024.geojson"
RESULTS = ROOT / "bench" / "results.json"
RESOLUTION = 9
REPEATS = 3
SEED = 20240601


def best_of(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """Run ``fn`` ``repeats`` times; return the fastest wall time and that run's result."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, result = elapsed, out
    return best, result


def ours_full(
    df: pd.DataFrame, wards: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Cells as hex strings and ward codes, the placerisk way (index build included).

    Also returns the seconds each step took (a few ``perf_counter`` calls: negligible).
    """
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    lat = df["lat"].to_numpy()
    lng = df["lng"].to_numpy()
    cells = latlng_to_cells(lat, lng, resolution=RESOLUTION)
    steps = {"latlng_to_cells": lap()}
    hexes = cells_to_str(cells)
    steps["cells_to_str"] = lap()
    index = WardIndex(wards["code"].to_numpy(), wards.geometry.values, resolution=RESOLUTION)
    steps["build_index"] = lap()
    codes = index.assign(lat, lng, cells=cells)
    steps["assign"] = lap()
    return hexes, codes, steps


def baseline_full(df: pd.DataFrame, wards: gpd.GeoDataFrame) -> tuple[list[str], pd.Series]:
    """Cells and ward codes, the idiomatic GeoPandas way."""
    res = RESOLUTION
    hexes = [
        h3.latlng_to_cell(lat, lng, res) for lat, lng in zip(df["lat"], df["lng"], strict=True)
    ]
    points = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lng"], df["lat"]), crs=WGS84)
    joined = gpd.sjoin(points, wards[["code", "geometry"]], how="left", predicate="within")
    return hexes, joined["code"]


def same_codes(ours: np.ndarray, joined: pd.Series, n: int) -> bool:
    """Compare ward codes; ``None`` (ours) equals NaN (sjoin's left join) for outside."""
    if len(joined) != n or not joined.index.is_unique:
        return False  # sjoin duplicated a point that lies in two wards
    theirs = joined.sort_index().astype(object).where(joined.notna(), None).to_numpy()
    return bool(len(ours) == n and all(a == b for a, b in zip(ours, theirs, strict=True)))


def bench_index_and_ward(wards: gpd.GeoDataFrame, n: int) -> dict[str, Any]:
    """Time cells + ward codes for ``n`` points, both ways."""
    df = synthetic_points(wards, n)
    ours_s, (our_hexes, our_codes, steps) = best_of(lambda: ours_full(df, wards))
    base_s, (base_hexes, base_codes) = best_of(lambda: baseline_full(df, wards))
    cells_same = our_hexes.tolist() == base_hexes
    codes_same = same_codes(our_codes, base_codes, n)
    outside = int(sum(code is None for code in our_codes))
    return {
        "name": f"index_and_ward_{_label(n)}",
        "n": n,
        "ours_s": ours_s,
        "baseline_s": base_s,
        "ratio": base_s / ours_s,
        "identical": cells_same and codes_same,
        "identical_cells": cells_same,
        "identical_codes": codes_same,
        "outside": outside,
        "ours_steps_s": steps,
        "notes": "ours: latlng_to_cells + cells_to_str + WardIndex build + assign; "
        "baseline: h3.latlng_to_cell per row + points_from_xy + sjoin(within)",
    }


def bench_reassign(wards: gpd.GeoDataFrame, n: int) -> dict[str, Any]:
    """Time ward assignment alone: prebuilt WardIndex with cells vs sjoin on a prebuilt frame."""
    df = synthetic_points(wards, n, seed=SEED + 1)
    lat = df["lat"].to_numpy()
    lng = df["lng"].to_numpy()
    cells = latlng_to_cells(lat, lng, resolution=RESOLUTION)
    index = WardIndex(wards["code"].to_numpy(), wards.geometry.values, resolution=RESOLUTION)
    points = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lng, lat), crs=WGS84)
    right = wards[["code", "geometry"]]
    ours_s, ours = best_of(lambda: index.assign(lat, lng, cells=cells))
    base_s, joined = best_of(
        lambda: gpd.sjoin(points, right, how="left", predicate="within")["code"]
    )
    return {
        "name": f"ward_reassign_{_label(n)}",
        "n": n,
        "ours_s": ours_s,
        "baseline_s": base_s,
        "ratio": base_s / ours_s,
        "identical": same_codes(ours, joined, n),
        "notes": "ours: WardIndex.assign with precomputed cells (index prebuilt); "
        "baseline: sjoin(within) on a prebuilt points GeoDataFrame",
    }


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the results as a fixed-width table."""
    print(f"{'name':<26} {'n':>9} {'ours_s':>8} {'baseline_s':>10} {'ratio':>7}  identical")
    for row in rows:
        base = "-" if row["baseline_s"] is None else f"{row['baseline_s']:.3f}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        print(
            f"{row['name']:<26} {row['n']:>9,} {row['ours_s']:>8.3f} "
            f"{base:>10} {ratio:>7}  {row['identical']}"
        )
    print_rows([row for row in rows if "target_p95_s" in row])
    for row in rows:
        if "html_mb" in row:
            budget = f", budget {row['budget_mb']} MB" + (
                f" and {row['budget_s'] * 1000:.0f} ms" if "budget_s" in row else "")
            print(f"  {row['name']}: {row['n']:,} cells' map is {row['html_mb']:.2f} MB of "
                  f"HTML (baseline {row['baseline_html_mb']:.2f} MB){budget}")
        if "ours_peak_traced_mb" in row:
            print(f"  {row['name']}: {row['grid_cells']:,} grid cells, {row['steps']} steps, "
                  f"esda permutations={row['esda_permutations']}; memory: scoring allocates "
                  f"{row['ours_peak_traced_mb']:.0f} MB at its peak, the process (data "
                  f"included) peaks at {row['process_peak_rss_mb']:.0f} MB")
        if "ours_steps_s" in row:
            steps = ", ".join(f"{k} {v:.3f}" for k, v in row["ours_steps_s"].items())
            print(f"  {row['name']} ours by step (s): {steps}")


def main() -> int:
    """Run the benchmarks, print the table and write ``bench/results.json``."""
    if not WARDS_FILE.exists():
        print(f"bench: {WARDS_FILE} not found; the benchmark needs ../shared/data. Skipped.")
        return 0
    wards = read_boundaries(WARDS_FILE).areas
    print(f"wards: {WARDS_FILE.name}, {len(wards)} wards; best of {REPEATS} repeats, seconds")
    rows = [
        bench_index_and_ward(wards, 1_000_000),
        bench_index_and_ward(wards, 100_000),
        bench_reassign(wards, 1_000_000),
    ]
    print("scoring: 1M reports x 104 weeks; the esda default baseline takes about 90 s ...")
    rows += bench_scoring()
    rows += bench_maps()
    rows.append(bench_outcome_table())
    rows.append(bench_import_lock())
    rows += bench_load()
    print_table(rows)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if any(row["identical"] is False for row in rows):  # None: no result to compare
        print("WARNING: results differ between ours and the baseline; see results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
