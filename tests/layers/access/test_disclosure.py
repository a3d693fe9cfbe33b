"""Disclosure control of the guardian view: suppression, bands, fixed grid and period."""

from __future__ import annotations

import datetime as dt
import re

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.access import disclosure
from layers.access.disclosure import (
    NOT_SHOWN,
    DisclosureError,
    band_labels,
    fixed_period,
    guardian_cells,
    period_values,
    protective_places,
)
from layers.hotspots.cube import make_steps

CENTRE = (54.5769, -1.3096)  # near the centre of the resolution-7 cell 871946558ffffff
CELL7 = "871946558ffffff"


def res9(lat: float, lng: float) -> str:
    return h3.latlng_to_cell(lat, lng, 9)  # the reference implementation, not h3index


def make_places(rows: list[tuple[float, float, int, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "id": range(1, len(rows) + 1),
        "h3_cell": [res9(lat, lng) for lat, lng, _, _ in rows],
        "mace_level": [lv for _, _, lv, _ in rows],
        "status": [s for _, _, _, s in rows],
    })


def near(i: int, level: int = 3, status: str = "open") -> tuple[float, float, int, str]:
    return (CENTRE[0] + 0.0005 * (i % 5), CENTRE[1] + 0.0005 * (i // 5), level, status)


def in_band(count: int, label: str) -> bool:
    if label.endswith("+"):
        return count >= int(label[:-1])
    lo, _, hi = label.partition("-")
    return int(lo) <= count <= int(hi or lo)


# --- the rules, on known values ----------------------------------------------------------

def test_bands_are_documented_values() -> None:
    assert disclosure.GUARDIAN_RESOLUTION == 7
    assert (disclosure.MIN_K, disclosure.DEFAULT_K) == (3, 5)
    assert band_labels() == ["5-9", "10-19", "20+"]
    assert band_labels(3) == ["3-4", "5-9", "10-19", "20+"]
    assert band_labels(4) == ["4", "5-9", "10-19", "20+"]
    assert band_labels(25) == ["25+"]


@pytest.mark.parametrize("k", [2, 1, 0, -5, True, 2.5, "5", None])
def test_k_below_three_or_not_an_integer_is_refused(k: object) -> None:
    places = make_places([near(i) for i in range(6)])
    with pytest.raises(ValueError, match="k must be an integer of at least 3"):
        guardian_cells(places, k=k)  # type: ignore[arg-type]


def test_five_places_are_shown_four_are_not() -> None:
    five = make_places([near(i) for i in range(5)])
    (row,) = guardian_cells(five).itertuples()
    assert (row.h3_cell, row.places_band, row.shown) == (CELL7, "5-9", True)
    four = make_places([near(i) for i in range(4)])
    (row,) = guardian_cells(four).itertuples()
    assert (row.places_band, row.concern_band, row.shown) == (NOT_SHOWN, NOT_SHOWN, False)


def test_protective_closed_and_duplicate_places_do_not_count() -> None:
    rows = [near(0, 1), near(1, 1), near(2, 4, "closed"), near(3, 2, "monitoring"),
            near(4), near(5), near(6)]
    places = make_places(rows)
    assert not guardian_cells(places)["shown"].any()  # 4 of concern: 3 open, 1 monitoring
    twice = pd.concat([places, places.iloc[[3]]], ignore_index=True)
    assert not guardian_cells(twice)["shown"].any()  # the same id is one place
    assert guardian_cells(places, k=3)["shown"].all()


def test_level_one_and_status_missing() -> None:
    places = make_places([near(i, 2) for i in range(5)])
    places.loc[0, "status"] = None  # a missing status counts as open
    assert guardian_cells(places)["shown"].all()


def test_grid_cells_are_listed_and_empty_ones_are_not_shown_not_zero() -> None:
    places = make_places([near(i) for i in range(6)])
    far = h3.cell_to_parent(res9(54.50, -1.20), 7)
    out = guardian_cells(places, grid=[CELL7, far])
    assert out["h3_cell"].tolist() == sorted([CELL7, far])
    empty = out.set_index("h3_cell").loc[far]
    assert (empty["places_band"], empty["concern_band"], empty["shown"]) == (
        NOT_SHOWN, NOT_SHOWN, False)


def test_cells_outside_the_grid_are_listed_only_when_shown() -> None:
    few = [(54.50, -1.20, 4, "open")] * 2  # two places in a cell outside the grid
    places = make_places([near(i) for i in range(5)] + few)
    out = guardian_cells(places, grid=[CELL7])
    assert out["h3_cell"].tolist() == [CELL7]  # the suppressed outside cell is not revealed
    grid = np.array([h3.str_to_int(CELL7)], dtype=np.uint64)  # uint64 grids work too
    assert guardian_cells(places, grid=grid)["h3_cell"].tolist() == [CELL7]


def test_grid_of_another_resolution_is_refused() -> None:
    places = make_places([near(0)])
    with pytest.raises(DisclosureError, match="not of resolution 7"):
        guardian_cells(places, grid=[res9(*CENTRE)])


def test_coarse_place_cells_are_refused() -> None:
    places = make_places([near(0)])
    places.loc[0, "h3_cell"] = h3.cell_to_parent(places.loc[0, "h3_cell"], 6)
    with pytest.raises(DisclosureError, match="coarser than resolution 7"):
        guardian_cells(places)


def test_missing_columns_are_named() -> None:
    with pytest.raises(DisclosureError, match="lacks column.*status"):
        guardian_cells(pd.DataFrame({"h3_cell": [], "mace_level": []}))


def test_unlocated_places_are_left_out() -> None:
    places = make_places([near(i) for i in range(5)])
    places.loc[0, "h3_cell"] = None
    assert not guardian_cells(places)["shown"].any()


def test_concern_bands_are_summed_per_parent_and_only_for_shown_cells() -> None:
    places = make_places([near(i) for i in range(5)] + [(54.50, -1.20, 4, "open")])
    values = pd.DataFrame({"h3_cell": [res9(*CENTRE), res9(CENTRE[0] + 0.001, CENTRE[1]),
                                       res9(54.50, -1.20)],
                           "value": [6.0, 5.0, 100.0]})
    out = guardian_cells(places, values).set_index("h3_cell")
    assert out.loc[CELL7, "concern_band"] == "medium"  # 6 + 5 = 11
    other = h3.cell_to_parent(res9(54.50, -1.20), 7)
    assert out.loc[other, "concern_band"] == NOT_SHOWN  # 100, but fewer than k places
    assert guardian_cells(places).set_index("h3_cell").loc[CELL7, "concern_band"] is None


def test_empty_places_give_no_cells() -> None:
    empty = make_places([])
    out = guardian_cells(empty)
    assert out.empty and list(out) == list(disclosure.CELL_COLUMNS)


# --- protective places -------------------------------------------------------------------

def test_protective_places_are_open_level_one_public_venues_without_names() -> None:
    places = pd.DataFrame({
        "name": ["Safe Youth Club", "Grandma's house", "Old club", "Park", "Bad Shop", "Nowhere"],
        "category": ["youth_leisure_venue", "residential", "youth_leisure_venue",
                     "park_open_space", "shop", "youth_leisure_venue"],
        "mace_level": [1, 1, 1, 1, 4, 1],
        "status": ["open", "open", "closed", None, "open", "open"],
        "lat": [54.5712345, 54.58, 54.59, 54.56, 54.57, None],
        "lng": [-1.3412345, -1.31, -1.32, -1.33, -1.34, None],
    })
    out = protective_places(places)
    assert list(out) == ["category", "label", "lat", "lng"]
    assert out["category"].tolist() == ["park_open_space", "youth_leisure_venue"]
    assert out["label"].tolist() == ["Park, open space or sports ground",
                                     "Youth or leisure venue"]
    assert out.loc[1, ["lat", "lng"]].tolist() == [54.5712, -1.3412]


# --- the fixed period ----------------------------------------------------------------------

def test_weekly_period_is_a_fixed_complete_block_of_13_weeks() -> None:
    as_of = dt.date(2025, 6, 30)
    steps = make_steps(as_of, kind="week", count=104)
    period = fixed_period(steps, as_of=as_of)
    assert period is not None
    starts, ends = steps.starts[period], steps.ends[period]
    assert len(starts) == 13
    assert ends[-1] <= np.datetime64(as_of) + 1
    weeks = (starts[0] - disclosure.WEEK_EPOCH).astype(int) // 7
    assert weeks % 13 == 0
    # every as-of date up to the end of the next block gives the same period: no sliding
    for days in range(0, 13 * 7 - 1, 5):
        later = dt.date.fromisoformat(str(ends[-1])) + dt.timedelta(days=days)
        s = make_steps(later, kind="week", count=104)
        p = fixed_period(s, as_of=later)
        assert p is not None
        assert s.starts[p][0] == starts[0] or s.starts[p][0] == ends[-1]
    assert fixed_period(make_steps(as_of, kind="week", count=5), as_of=as_of) is None


def test_a_block_is_complete_on_its_last_day() -> None:
    as_of = dt.date(2025, 6, 30)
    steps = make_steps(as_of, kind="week", count=104)
    period = fixed_period(steps, as_of=as_of)
    assert period is not None
    last = dt.date.fromisoformat(str(steps.ends[period][-1] + 13 * 7 - 1))  # next block's end
    s = make_steps(last, kind="week", count=104)
    p = fixed_period(s, as_of=last)
    assert p is not None and s.ends[p][-1] == np.datetime64(last) + 1


def test_monthly_period_is_the_last_complete_quarter() -> None:
    steps = make_steps(dt.date(2025, 6, 29), kind="month", count=12)
    period = fixed_period(steps, as_of=dt.date(2025, 6, 29))
    assert period is not None
    assert steps.labels[period] == ["2025-01-01", "2025-02-01", "2025-03-01"]


def test_period_values_sum_the_period() -> None:
    series = np.arange(12.0).reshape(2, 6)
    out = period_values(["a", "b"], series, slice(3, 6))
    assert out["value"].tolist() == [3 + 4 + 5, 9 + 10 + 11]


# --- invariants over random data -----------------------------------------------------------

# Places jittered around three points in different resolution-7 cells, so that cells often
# reach k; some fall across a cell edge.
ANCHORS = [(54.5769, -1.3096), (54.5600, -1.3300), (54.5900, -1.3050)]
PLACE = st.builds(
    lambda anchor, dlat, dlng, level, status: (anchor[0] + dlat, anchor[1] + dlng, level, status),
    st.sampled_from(ANCHORS), st.floats(-0.006, 0.006), st.floats(-0.008, 0.008),
    st.integers(1, 4), st.sampled_from(["open", "monitoring", "closed"]))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(PLACE, max_size=8) | st.lists(PLACE, min_size=15, max_size=60),
       k=st.integers(3, 8),
       repeat=st.lists(st.integers(0, 59), max_size=5),
       values=st.lists(st.floats(0, 20, allow_nan=False), max_size=60))
def test_disclosure_invariants(rows: list, k: int, repeat: list[int], values: list[float]
                               ) -> None:
    places = make_places(rows)
    places = pd.concat([places, places.iloc[[i for i in repeat if i < len(places)]]],
                       ignore_index=True)  # a place listed twice is still one place
    cell_values = pd.DataFrame({"h3_cell": places["h3_cell"].iloc[:len(values)].tolist(),
                                "value": values[:len(places)]})
    out = guardian_cells(places, cell_values, k=k)

    concern = places[places["mace_level"].isin([2, 3, 4]) & (places["status"] != "closed")]
    truth: dict[str, set] = {}
    for cell, pid in zip(concern["h3_cell"], concern["id"], strict=True):
        truth.setdefault(h3.cell_to_parent(cell, 7), set()).add(pid)

    assert all(h3.get_resolution(c) == 7 for c in out["h3_cell"])
    assert out["h3_cell"].is_unique
    for row in out.itertuples():
        n = len(truth.get(row.h3_cell, ()))
        if row.shown:
            assert n >= k
            assert in_band(n, row.places_band)
            assert row.concern_band in {"lower", "medium", "higher"}
        else:
            assert n < k
            assert row.places_band == NOT_SHOWN and row.concern_band == NOT_SHOWN
            assert not re.search(r"\d", f"{row.places_band}{row.concern_band}")
    shown = set(out.loc[out["shown"], "h3_cell"])
    assert shown == {c for c, ids in truth.items() if len(ids) >= k}
