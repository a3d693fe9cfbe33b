"""Benchmark the outcome table of every disruption against the per-plan reference loop.

What is measured
----------------
``outcome_table_demo``: the "reports" measure of the JAG outcome table on the synthetic demo
data (``placerisk demo-data`` in a temporary folder: about 1,050 activities and 220
campaigns, 5,500 independent reports, 4,700 candidate cells in 27 wards).

* ours: ``layers.action.outcomes.measures.outcome_table`` as ``layers.action.outcomes.table`` calls
  it (cells, events and neighbourhoods indexed once, then integer array work per activity); best of
  3.
* baseline: the readable way, what ``outcome_table`` did before: per activity and campaign,
  the per-cell level to match controls on, ``choose_areas``, ``count_windows`` and
  ``assess``; one run (it takes about 10 s).

The two tables must be identical (same rows and columns, floats equal to 1e-12); the check
is reported as ``same``, not assumed.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import h3index  # noqa: E402
from layers.action.outcomes import inputs as outcome_inputs  # noqa: E402
from layers.action.outcomes import measures as outcomes  # noqa: E402
from layers.store.engine import open_store  # noqa: E402

DAYS = outcomes.DEFAULT_DAYS
REPEATS = 3


def demo_inputs(folder: Path) -> outcome_inputs.OutcomeInputs:
    """Build the demo database in ``folder`` with the CLI and read the outcome inputs."""
    from click.testing import CliRunner

    from api.cli import main

    db = folder / "demo.db"
    result = CliRunner().invoke(main, ["--db", str(db), "demo-data", "--no-accounts"])
    assert result.exit_code == 0, result.output
    store = open_store(db)
    try:
        with store.connect() as conn:
            return outcome_inputs.load_outcome_inputs(conn)
    finally:
        store.close()


def _plans(activities: pd.DataFrame) -> list[tuple[Any, ...]]:
    """(level, id, activity_type, jag_ref, cells, start) per activity and campaign."""
    starts = [pd.Timestamp(s).date() for s in activities["started_at"]]
    plans: list[tuple[Any, ...]] = [
        ("activity", str(a.id), a.activity_type, a.jag_ref, [a.h3_cell], start)
        for a, start in zip(activities.itertuples(), starts, strict=True)]
    shared = activities.assign(start=starts).dropna(subset=["jag_ref"])
    for ref, group in shared.groupby("jag_ref"):
        if len(group) > 1:
            plans.append(("campaign", str(ref), "+".join(sorted(set(group["activity_type"]))),
                          ref, sorted(set(group["h3_cell"])), min(group["start"])))
    return plans


def baseline_table(activities: pd.DataFrame, events: pd.DataFrame, cells: pd.DataFrame, *,
                   days: int = DAYS) -> pd.DataFrame:
    """The outcome table per plan: choose_areas, count_windows and assess (report counts)."""
    events = events.assign(day=pd.to_datetime(events["day"]))
    # candidate ids checked once, as outcome_table always did (choose_areas(checked=True))
    cells = cells.assign(h3_cell=h3index.cells_to_str(h3index.str_to_cells(
        cells["h3_cell"].to_numpy())))
    day, span = events["day"], dt.timedelta(days=days)
    ones = pd.Series(1.0, index=events.index)
    rows = []
    for level, ident, kind, jag, target, start in _plans(activities):
        first = pd.Timestamp(start)
        window = (day >= first - 2 * span) & (day < first - span)
        matched_on = "prior window"
        if not window.any():  # no history before the before window: match on the before window
            window, matched_on = (day >= first - span) & (day < first), "before window"
        before = ones[window].groupby(events.loc[window, "h3_cell"]).sum()
        areas = outcomes.choose_areas(target, cells, before=before, checked=True)
        counts = outcomes.count_windows(events, areas, start=start, days=days)
        rows.append({"level": level, "id": ident, "activity_type": kind, "jag_ref": jag,
                     "start": start, "after_ends": start + dt.timedelta(days=days),
                     "target_cells": len(areas.target), "control_cells": len(areas.control),
                     "matched_on": matched_on, **outcomes.assess(counts).to_row()})
    return pd.DataFrame(rows).sort_values(["activity_type", "level", "id"], kind="stable",
                                          ignore_index=True)


def _same(ours: pd.DataFrame, base: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(ours, base, check_exact=False, rtol=1e-12, atol=1e-12)
    except AssertionError:
        return False
    return True


def bench_outcome_table() -> dict[str, Any]:
    """The demo's outcome table (reports measure), ours against the per-plan loop."""
    with tempfile.TemporaryDirectory() as tmp:
        inputs = demo_inputs(Path(tmp))
    args = (inputs.activities, inputs.reports, inputs.cells)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        ours = outcomes.outcome_table(*args, days=DAYS)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    base = baseline_table(*args, days=DAYS)
    base_s = time.perf_counter() - started
    same = _same(ours, base)
    return {"name": "outcome_table_demo", "n": len(ours), "ours_s": min(times),
            "baseline_s": base_s, "ratio": base_s / min(times), "same": same,
            "identical": same,  # the key bench/run.py's table prints
            "events": len(inputs.reports), "candidate_cells": len(inputs.cells),
            "notes": "ours: outcome_table (best of 3); baseline: choose_areas + "
                     "count_windows + assess per activity and campaign (one run)"}


if __name__ == "__main__":
    print(bench_outcome_table(), dt.datetime.now().isoformat())
