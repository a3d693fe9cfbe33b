"""The hot spot engine end to end on synthetic inputs: categories, guardrail, incremental."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import h3index
from layers.hotspots import emerging
from layers.hotspots.coverage import CoverageError
from layers.hotspots.cube import make_steps
from layers.hotspots.engine import Previous, ScoreParams, score_hotspots
from layers.hotspots.inputs import ScoreInputs
from layers.hotspots.weights import Weights

AS_OF = dt.date(2025, 6, 29)  # a Sunday: 104 whole weeks
GRID = h3index.polygon_to_cells(shapely.box(-1.40, 54.52, -1.30, 54.58), resolution=9,
                                contain="overlap")
CELLS = GRID[[40, 120, 200, 280, 360]]


def reports(rows: list[tuple[int, dt.date, int, bool]]) -> pd.DataFrame:
    """(cell, date, level, patrol) tuples as the engine reads them."""
    frame = pd.DataFrame(rows, columns=["key", "reported_on", "mace_level", "patrol_discovered"])
    frame["key"] = frame["key"].astype(np.uint64)
    frame["source_id"] = [f"R{i}" for i in range(len(frame))]
    frame["h3_cell"] = h3index.cells_to_str(frame["key"].to_numpy())
    frame["ward_code"] = "W1"
    return frame


def inputs(report_rows: list[tuple], incidents: pd.DataFrame | None = None) -> ScoreInputs:
    empty_inc = pd.DataFrame(columns=["incident_key", "key", "ward_code", "month", "crime_type"])
    places = pd.DataFrame(columns=["id", "source_id", "key", "ward_code"])
    history = pd.DataFrame(columns=["place_id", "changed_on", "to_level"])
    return ScoreInputs(reports(report_rows), incidents if incidents is not None else empty_inc,
                       places, history, GRID, 9, dt.datetime(2025, 7, 1, tzinfo=dt.UTC))


def weekly(cell: int, weeks: range, per_week: int, *, level: int = 3, patrol: bool = False
           ) -> list[tuple]:
    starts = make_steps(AS_OF, count=104).starts
    return [(cell, (starts[w] + 2).astype(dt.date), level, patrol)
            for w in weeks for _ in range(per_week)]


def background(seed: int = 1) -> list[tuple]:
    """Scattered independent low-level concern across the grid, every week."""
    rng = np.random.default_rng(seed)
    starts = make_steps(AS_OF, count=104).starts
    near = h3index.str_to_cells([n for c in h3index.cells_to_str(CELLS)
                                 for n in h3index.grid_disk(c, 1)])
    cells = rng.choice(np.setdiff1d(GRID, near), 104 * 6)
    days = np.repeat(starts, 6) + rng.integers(0, 7, 104 * 6)
    return [(c, d.astype(dt.date), 2, False) for c, d in zip(cells, days, strict=True)]


def category_of(result, cell) -> str:
    return str(result.category[np.searchsorted(result.cells, np.uint64(cell))])


def test_new_and_persistent_cells():
    new, steady = CELLS[:2]
    rows = background() + weekly(new, range(101, 104), 12) + weekly(steady, range(104), 8)
    result = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF))
    assert category_of(result, new) in (emerging.NEW_HOT, emerging.CONSECUTIVE_HOT)
    assert category_of(result, steady) == emerging.PERSISTENT_HOT
    labels = dict(zip(result.cells, result.label, strict=True))
    assert labels[np.uint64(steady)] == "persistent"
    assert labels[np.uint64(new)] == "emerging"


def test_fading_cells_are_historical_or_former():
    gone, faded = CELLS[2:4]
    rows = background() + weekly(gone, range(0, 96), 8) + weekly(faded, range(0, 70), 8)
    result = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF))
    assert category_of(result, gone) == emerging.HISTORICAL_HOT
    labels = dict(zip(result.cells, result.label, strict=True))
    assert labels[np.uint64(faded)] == "former"
    assert category_of(result, faded) not in emerging.CATEGORIES[:7]  # not hot now


def test_patrol_discovered_records_cannot_make_a_hot_spot():
    """Patrols at a cell with no independent reports, and all they find, stay cold."""
    patrolled = CELLS[4]
    rows = background() + weekly(patrolled, range(104), 10, patrol=True)
    drugs = pd.DataFrame({"incident_key": [f"D{m}" for m in range(24)],
                          "key": np.uint64(patrolled), "ward_code": "W1",
                          "month": [f"{2023 + (m + 6) // 12}-{(m + 6) % 12 + 1:02d}"
                                    for m in range(24)],
                          "crime_type": "Drugs"})
    data = inputs(rows, drugs)
    guarded = score_hotspots(data, ScoreParams(as_of=AS_OF))
    i = np.searchsorted(guarded.cells, np.uint64(patrolled))
    assert not (guarded.sig[i] & (guarded.z[i] > 0)).any()
    assert category_of(guarded, patrolled) not in emerging.CATEGORIES[:8]
    assert guarded.current[i] == pytest.approx(0.0, abs=1e-9)
    assert guarded.parts["patrol"][i].sum() > 0  # kept, and shown apart
    unguarded = score_hotspots(data, ScoreParams(
        as_of=AS_OF, weights=dataclasses.replace(Weights(), include_patrol=True)))
    assert category_of(unguarded, patrolled) == emerging.PERSISTENT_HOT


def test_incremental_equals_full_recompute():
    first = background() + weekly(CELLS[0], range(0, 100), 5)
    before = score_hotspots(inputs(first), ScoreParams(as_of=AS_OF - dt.timedelta(days=7)))
    previous = Previous(dict(zip(before.steps.labels, before.checksums, strict=True)),
                        before.cells, before.z, before.p, before.steps.labels)
    later = first + weekly(CELLS[1], range(103, 104), 9)  # one more week arrives
    params = ScoreParams(as_of=AS_OF)
    full = score_hotspots(inputs(later), params)
    incremental = score_hotspots(inputs(later), params, previous=previous)
    assert incremental.reused_steps > 0
    np.testing.assert_array_equal(incremental.cells, full.cells)
    np.testing.assert_allclose(incremental.z, full.z, rtol=0, atol=1e-12)
    np.testing.assert_allclose(incremental.p, full.p, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(incremental.sig, full.sig)
    np.testing.assert_array_equal(incremental.category, full.category)
    np.testing.assert_allclose(incremental.current, full.current)


def test_ward_ranking_and_concentration():
    rows = background() + weekly(CELLS[0], range(104), 6)
    result = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF))
    assert result.wards["ward_code"].tolist() == ["W1"]
    assert result.wards["rank"].tolist() == [1]
    assert len(result.concentration) == 104
    assert (result.concentration["top_1pct"] > 0.1).all()


def test_month_steps():
    rows = background() + weekly(CELLS[0], range(80, 104), 6)
    result = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF, step="month"))
    assert len(result.steps) == 24 and result.steps.labels[-1] == "2025-06-01"
    assert category_of(result, CELLS[0]) in emerging.CATEGORIES[:8]


def test_a_place_outside_every_ward_counts_in_its_cell_not_in_a_ward():
    """Regression: a place with no ward crashed the ward summary (KeyError in place_events)."""
    base = inputs(background())
    cells = h3index.cells_to_str(CELLS[:2])
    places = pd.DataFrame({"id": [1, 2], "source_id": ["IN", "OUT"],
                           "key": CELLS[:2].astype(np.uint64), "h3_cell": cells,
                           "ward_code": ["W1", None]})
    history = pd.DataFrame({"place_id": [1, 2], "changed_on": [dt.date(2023, 1, 2)] * 2,
                            "to_level": [4, 4]})
    result = score_hotspots(dataclasses.replace(base, places=places, history=history),
                            ScoreParams(as_of=AS_OF))
    inside, outside = (result.parts["places"][np.searchsorted(result.cells, c)] for c in CELLS[:2])
    assert inside.sum() > 0 and outside.sum() == inside.sum()
    assert result.wards["ward_code"].tolist() == ["W1"]
    without = score_hotspots(dataclasses.replace(base, places=places[:1], history=history[:1]),
                             ScoreParams(as_of=AS_OF))
    np.testing.assert_allclose(result.wards["current"], without.wards["current"])


def late_background(first_week: int, seed: int = 1) -> list[tuple]:
    """`background`, but only from ``first_week`` on: data that begin mid-window."""
    starts = make_steps(AS_OF, count=104).starts
    return [row for row in background(seed) if row[1] >= starts[first_week].astype(dt.date)]


def test_data_that_start_mid_window_are_scored_from_their_start():
    """Weeks before the first record are not quiet weeks (issue 10, item 6)."""
    rows = late_background(52) + weekly(CELLS[0], range(52, 104), 6)
    result = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF))
    first = min(r[1] for r in rows)
    assert result.asked_steps == 104 and len(result.steps) == 52
    assert result.steps.starts[0] <= np.datetime64(first) < result.steps.ends[0]
    assert result.coverage.sources["reports"] == (first, AS_OF)
    # hot in every covered week: persistent, not "new", "consecutive" or "intensifying"
    assert category_of(result, CELLS[0]) == "persistent hot spot"
    # the same as asking for the 52 weeks the data cover
    same = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF, n_steps=52))
    np.testing.assert_array_equal(result.cells, same.cells)
    np.testing.assert_allclose(result.z, same.z)
    np.testing.assert_array_equal(result.category, same.category)


def test_police_uk_months_limit_the_window_to_whole_covered_weeks():
    rows = late_background(0)
    months = pd.period_range("2024-02", "2025-06", freq="M").astype(str)
    crime = pd.DataFrame({"incident_key": [f"c{m}" for m in months],
                          "key": np.full(len(months), CELLS[1], np.uint64),
                          "ward_code": "W1", "month": months, "crime_type": "Robbery"})
    result = score_hotspots(inputs(rows, crime), ScoreParams(as_of=AS_OF))
    assert result.steps.labels[0] == "2024-02-05"  # the first Monday in February
    assert result.coverage.start == dt.date(2024, 2, 1)
    monthly = score_hotspots(inputs(rows, crime), ScoreParams(as_of=AS_OF, step="month"))
    assert monthly.steps.labels[0] == "2024-02-01" and len(monthly.steps) == 17


@pytest.mark.parametrize("step", ["week", "month"])
@pytest.mark.parametrize("n_steps", [3, 4, 5, 6, 12])
def test_every_step_count_the_cli_accepts_scores(step, n_steps):
    """Regression: --step month --steps 3 or 4 failed inside the simple labels."""
    rows = background() + weekly(CELLS[0], range(90, 104), 6)
    result = score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF, step=step, n_steps=n_steps))
    assert len(result.steps) == n_steps and len(result.label) == len(result.cells)


def test_too_short_a_coverage_is_refused_in_the_users_terms():
    rows = weekly(CELLS[0], range(102, 104), 6)
    with pytest.raises(CoverageError, match=r"only 2 whole weeks of the 104 asked for.*at "
                                            r"least 3.*import more history"):
        score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF))
    with pytest.raises(CoverageError, match=r"only 1 whole month .*use --step week"):
        score_hotspots(inputs(rows), ScoreParams(as_of=AS_OF, step="month"))
