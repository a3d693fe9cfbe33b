"""Disclosure control under random data (Hypothesis): what a guardian can learn, and cannot.

Random places in a box around Stockton-on-Tees (54.55-54.60 N, 1.36-1.28 W), scattered or
clustered, with random MACE levels and statuses, go through `layers.access.disclosure` on the
fixed study grid the app uses (every resolution-7 cell touching the box). The truth is
counted here independently with h3-py. Checked:

* a shown cell holds at least k distinct places of concern, and its label is the band of
  `band_labels` holding that count;
* a suppressed cell is never a zero: it says "not shown" for both bands, carries no digit,
  and looks exactly like a cell with no place at all;
* nothing a request can send changes the cells or the period: the guardian routes declare
  no parameter of any kind (``test_guardian.py`` sends stray ones and compares bytes), and
  the view is a function of the data and the server's k alone;
* differencing: for any two allowed settings over the same data (k, k' >= 3) the counts
  consistent with both outputs always include zero for a cell holding fewer than min(k, k')
  places; emptying a suppressed cell changes nothing; two fixed periods are equal or
  disjoint, never overlapping windows whose difference isolates a few weeks;
* k below 3 is refused and 5 is the default.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from api.services import guardian as guardian_service
from geo import h3index
from layers.access import disclosure
from layers.access.disclosure import (
    DEFAULT_K,
    MIN_K,
    NOT_SHOWN,
    DisclosureError,
    band_labels,
    check_k,
    fixed_period,
    guardian_cells,
)
from layers.hotspots.cube import make_steps

LAT = (54.55, 54.60)
LNG = (-1.36, -1.28)
GRID = h3index.polygon_to_cells(shapely.box(LNG[0], LAT[0], LNG[1], LAT[1]), resolution=7,
                                contain="overlap")  # as `study_grid` makes it from wards
LEVELS = st.integers(1, 4)
STATUSES = st.sampled_from(["open", "monitoring", "closed", "CLOSED", None])
SETTINGS = settings(max_examples=60, deadline=None)


def _point_near(centre: tuple[float, float]) -> st.SearchStrategy[tuple[float, float]]:
    lat, lng = centre
    return st.tuples(st.floats(max(LAT[0], lat - 0.004), min(LAT[1], lat + 0.004)),
                     st.floats(max(LNG[0], lng - 0.006), min(LNG[1], lng + 0.006)))


ANYWHERE = st.tuples(st.floats(*LAT), st.floats(*LNG))


@st.composite
def datasets(draw: st.DrawFn) -> pd.DataFrame:
    """Places scattered over the box, or clustered round a few centres so cells reach k."""
    centres = draw(st.lists(ANYWHERE, min_size=1, max_size=3))
    where = ANYWHERE | st.sampled_from(centres).flatmap(_point_near)
    place = st.tuples(where, LEVELS, STATUSES)
    rows = draw(st.lists(place, max_size=8) | st.lists(place, min_size=25, max_size=80))
    places = pd.DataFrame({
        "id": np.arange(1, len(rows) + 1),
        "h3_cell": [h3.latlng_to_cell(lat, lng, 9) for (lat, lng), _, _ in rows],
        "mace_level": [level for _, level, _ in rows],
        "status": [status for _, _, status in rows],
    }, columns=["id", "h3_cell", "mace_level", "status"])
    repeat = draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=6))
    if len(rows):  # the same place listed twice is one place
        places = pd.concat([places, places.iloc[repeat]], ignore_index=True)
    return places


def truth(places: pd.DataFrame) -> dict[str, int]:
    """Distinct places of concern (levels 2-4, not closed) per resolution-7 cell."""
    status = places["status"].fillna("open").astype(str).str.lower()
    concern = places[places["mace_level"].isin([2, 3, 4]) & (status != "closed")]
    ids: dict[str, set] = {}
    for cell, pid in zip(concern["h3_cell"], concern["id"], strict=True):
        ids.setdefault(h3.cell_to_parent(cell, 7), set()).add(pid)
    return {cell: len(found) for cell, found in ids.items()}


def possible(label: str, k: int) -> range:
    """The counts a viewer can infer from a places band shown with threshold k."""
    if label == NOT_SHOWN:
        return range(0, k)
    if label.endswith("+"):
        return range(int(label[:-1]), 10_000)
    lo, _, hi = label.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def view(places: pd.DataFrame, k: int) -> pd.DataFrame:
    return guardian_cells(places, k=k, grid=GRID).set_index("h3_cell")


# --- what a shown cell and a suppressed cell say ------------------------------------------

@SETTINGS
@given(places=datasets(), k=st.integers(MIN_K, 12))
def test_shown_cells_hold_k_places_and_show_a_band(places: pd.DataFrame, k: int) -> None:
    out = view(places, k)
    counts = truth(places)
    assert out.index.is_unique
    assert {h3.get_resolution(c) for c in out.index} <= {7}
    assert set(h3index.cells_to_str(GRID)) <= set(out.index)  # the fixed grid, always
    for cell, row in out.iterrows():
        n = counts.get(str(cell), 0)
        assert bool(row["shown"]) == (n >= k), (cell, n, k)
        if row["shown"]:
            assert row["places_band"] in band_labels(k)
            assert n in possible(row["places_band"], k)


@SETTINGS
@given(places=datasets(), k=st.integers(MIN_K, 12),
       values=st.lists(st.floats(0, 50, allow_nan=False), max_size=70))
def test_suppressed_cells_are_never_zero_and_look_empty(places: pd.DataFrame, k: int,
                                                        values: list[float]) -> None:
    cell_values = pd.DataFrame({"h3_cell": places["h3_cell"].iloc[:len(values)].to_numpy(),
                                "value": values[:len(places)]})
    out = guardian_cells(places, cell_values, k=k, grid=GRID)
    hidden = out[~out["shown"]]
    for row in hidden.itertuples():
        assert (row.places_band, row.concern_band) == (NOT_SHOWN, NOT_SHOWN)
        assert not re.search(r"\d", f"{row.places_band}{row.concern_band}")
    # a cell with k-1 places reads exactly like a cell with none
    assert hidden.drop(columns="h3_cell").drop_duplicates().shape[0] <= 1
    shown = out[out["shown"]]
    assert set(shown["concern_band"]) <= {"lower", "medium", "higher"}


# --- nothing a request sends changes the view ---------------------------------------------

def test_guardian_routes_take_no_parameter_of_any_kind() -> None:
    from fastapi.routing import APIRoute

    from api.routes import guardian as routes_guardian

    routes = [r for r in routes_guardian.router.routes if isinstance(r, APIRoute)]
    assert {r.path for r in routes} == {"/guardian", "/api/guardian/cells"}
    for route in routes:
        d = route.dependant
        assert not (d.query_params or d.path_params or d.header_params or d.cookie_params
                    or d.body_params), route.path
    # the view is made from the store, the server's settings and the authorities of the
    # signed-in account (`layers.store.scope`, read from the store too), nothing the request sends
    assert list(inspect.signature(guardian_service.guardian_view).parameters) == [
        "store", "settings", "scope"]


@SETTINGS
@given(places=datasets(), k=st.integers(MIN_K, 12), seed=st.integers(0, 2**16))
def test_the_view_depends_on_the_data_alone(places: pd.DataFrame, k: int, seed: int) -> None:
    shuffled = places.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(guardian_cells(places, k=k, grid=GRID),
                                  guardian_cells(shuffled, k=k, grid=GRID))


# --- differencing ---------------------------------------------------------------------------

@SETTINGS
@given(places=datasets(), k1=st.integers(MIN_K, 12), k2=st.integers(MIN_K, 12))
def test_two_settings_never_isolate_a_count_below_k(places: pd.DataFrame, k1: int,
                                                     k2: int) -> None:
    a, b = view(places, k1), view(places, k2)
    counts = truth(places)
    low = min(k1, k2)
    for cell in a.index.union(b.index):
        n = counts.get(str(cell), 0)
        inferred = set(possible(a.loc[cell, "places_band"], k1) if cell in a.index
                       else range(0, k1))
        inferred &= set(possible(b.loc[cell, "places_band"], k2) if cell in b.index
                        else range(0, k2))
        assert n in inferred
        if n < low:
            assert 0 in inferred, (cell, n, k1, k2)  # indistinguishable from an empty cell


@SETTINGS
@given(places=datasets(), k=st.integers(MIN_K, 12))
def test_emptying_a_suppressed_cell_changes_nothing(places: pd.DataFrame, k: int) -> None:
    out = view(places, k)
    parents = places["h3_cell"].map(lambda c: h3.cell_to_parent(c, 7))
    hidden = [c for c in out.index[~out["shown"]] if (parents == c).any()]
    if not hidden:
        return
    emptied = places[parents != hidden[0]]
    pd.testing.assert_frame_equal(out, view(emptied, k))


@SETTINGS
@given(a=st.dates(dt.date(2019, 1, 1), dt.date(2027, 12, 31)),
       days=st.integers(0, 800), kind=st.sampled_from(["week", "month"]))
def test_fixed_periods_are_equal_or_disjoint(a: dt.date, days: int, kind: str) -> None:
    b = a + dt.timedelta(days=days)
    spans = []
    for as_of in (a, b):
        steps = make_steps(as_of, kind=kind, count=104 if kind == "week" else 36)
        period = fixed_period(steps, as_of=as_of)
        assert period is not None
        start, end = steps.starts[period][0], steps.ends[period][-1]
        assert end <= np.datetime64(as_of) + 1  # complete: never a growing window
        if kind == "week":
            assert (start - disclosure.WEEK_EPOCH).astype(int) % (7 * 13) == 0
        else:
            assert str(start)[5:7] in {"01", "04", "07", "10"} and str(start)[8:] == "01"
        spans.append((start, end))
    (s1, e1), (s2, e2) = spans
    assert (s1, e1) == (s2, e2) or e1 <= s2 or e2 <= s1


# --- k ------------------------------------------------------------------------------------

@given(k=st.integers(-1000, MIN_K - 1))
def test_k_below_three_is_refused(k: int) -> None:
    with pytest.raises(DisclosureError, match="at least 3"):
        check_k(k)
    with pytest.raises(DisclosureError, match="at least 3"):
        guardian_cells(pd.DataFrame(columns=["h3_cell", "mace_level", "status"]), k=k)


def test_the_default_k_is_five() -> None:
    from api.settings import Settings

    assert DEFAULT_K == 5 and MIN_K == 3
    assert inspect.signature(guardian_cells).parameters["k"].default == 5
    assert Settings().guardian_k == 5
