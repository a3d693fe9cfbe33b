from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import xml.etree.ElementTree as ET

import gpxpy
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import h3index
from layers.action.patrol.cells import tour_length_m
from layers.action.patrol.formats import GPX_NS, KML_NS, to_gpx, to_kml
from layers.action.patrol.shift import (
    DONE_COLUMNS,
    NOT_IN_PLAN,
    REVISIT_MINUTES,
    VISIT_COLUMNS,
    PatrolPlan,
    officer_groups,
    plan_shift,
    plan_to_dict,
    plan_vs_done,
)

WARD, OTHER = "E05000001", "E05000002"
DAY = dt.date(2025, 3, 31)
NASTY = "<script>&\"'</script>"
K = f"{{{KML_NS}}}"


def centre() -> str:
    cells = h3index.latlng_to_cells(np.array([54.5680]), np.array([-1.3187]), resolution=9)
    return str(h3index.cells_to_str(cells)[0])


DISK = sorted(h3index.grid_disk(centre(), 3))  # 37 cells, about 1.2 km across


def frame(scores: list[float] | np.ndarray, wards: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"h3_cell": DISK[:len(scores)], "score": np.asarray(scores, float),
                         "category": "hot spot", "ward_code": wards})


def random_cells(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scores = rng.gamma(1.0, 3.0, len(DISK)).round(3) * (rng.random(len(DISK)) > 0.2)
    return frame(scores, rng.choice([WARD, OTHER], len(DISK)).tolist())


@pytest.fixture
def cells() -> pd.DataFrame:
    return random_cells(0)


def gaps_minutes(plan: PatrolPlan) -> pd.Series:
    """Minutes between consecutive visits to the same cell."""
    v = plan.visits.sort_values(["h3_cell", "arrive"])
    return (v.groupby("h3_cell")["arrive"].diff().dropna().dt.total_seconds() / 60)


# --- which cells --------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(scores=st.lists(st.floats(0, 100, allow_nan=False), min_size=len(DISK),
                       max_size=len(DISK)),
       in_ward=st.lists(st.booleans(), min_size=len(DISK), max_size=len(DISK)),
       top=st.integers(1, 12))
def test_plan_takes_the_ward_top_cells_and_nothing_else(scores: list[float],
                                                        in_ward: list[bool], top: int) -> None:
    cells = frame(scores, [WARD if w else OTHER for w in in_ward])
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=top)
    ward = cells[(cells["ward_code"] == WARD) & (cells["score"] > 0)]
    expected = ward.sort_values(["score", "h3_cell"], ascending=[False, True]).head(top)
    assert set(plan.cells["h3_cell"]) == set(expected["h3_cell"])
    assert set(plan.visits["h3_cell"]) <= set(ward["h3_cell"])


def test_coverage_by_hand() -> None:
    cells = frame([5, 4, 3, 2, 1, 0, 100], [WARD] * 6 + [OTHER])
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=3)
    assert set(plan.cells["h3_cell"]) == set(DISK[:3])
    assert plan.coverage == pytest.approx((5 + 4 + 3) / 15)


def test_empty_ward_gives_an_empty_plan(cells: pd.DataFrame) -> None:
    plan = plan_shift(cells, ward_code="E05009999", date=DAY)
    assert plan.cells.empty and plan.visits.empty and plan.coverage == 0.0
    assert list(plan.visits.columns) == list(VISIT_COLUMNS)
    assert len(gpxpy.parse(to_gpx(plan)).waypoints) == 0
    assert ET.fromstring(to_kml(plan)).findall(f".//{K}Placemark") == []


# --- the timetable ------------------------------------------------------------------------

CONFIGS = [(dict(hours=8, officers=1, top=8)), dict(hours=12, officers=3, top=20),
           dict(hours=1, officers=1, top=1), dict(hours=5.5, officers=2, top=5),
           dict(hours=8, officers=1, top=20, start=dt.time(22, 30))]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("seed", [None, 1, 2])
def test_visits_fit_the_shift_and_are_short(cells: pd.DataFrame, config: dict,
                                            seed: int | None) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, seed=seed, **config)
    v = plan.visits
    assert list(v.columns) == list(VISIT_COLUMNS) and len(v) > 0
    assert plan.start == dt.datetime.combine(DAY, config.get("start", dt.time(18)))
    assert plan.end == plan.start + dt.timedelta(hours=config["hours"])
    assert (v["arrive"] >= plan.start).all() and (v["leave"] <= plan.end).all()
    assert v["dwell_minutes"].between(10, 15).all()
    assert ((v["leave"] - v["arrive"]).dt.total_seconds() / 60 == v["dwell_minutes"]).all()
    assert (gaps_minutes(plan) >= 60).all()
    first = v.groupby("officer")["arrive"].min() - plan.start
    assert (first <= pd.Timedelta(minutes=30)).all()
    for _, mine in v.groupby("officer"):  # an officer is in one place at a time
        assert (mine["arrive"].iloc[1:].to_numpy() >= mine["leave"].iloc[:-1].to_numpy()).all()


def test_small_plan_revisits_every_couple_of_hours(cells: pd.DataFrame) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=3, hours=10)
    gaps = gaps_minutes(plan)
    assert len(gaps) >= 3 * 3  # at least four rounds in ten hours
    assert gaps.between(*REVISIT_MINUTES).all()
    assert (plan.visits.groupby("h3_cell").size() >= 4).all()


def test_travel_between_cells_takes_time(cells: pd.DataFrame) -> None:
    slow = plan_shift(cells, ward_code=WARD, date=DAY, top=5, speed_kmh=1)
    v = slow.visits[slow.visits["round"] == 1]
    idle = (v["arrive"].iloc[1:].to_numpy() - v["leave"].iloc[:-1].to_numpy())
    assert (idle >= np.timedelta64(10, "m")).all()  # cells are 300 m or more apart


def test_same_date_and_seed_same_plan(cells: pd.DataFrame) -> None:
    a = plan_shift(cells, ward_code=WARD, date=DAY, seed=7, officers=2)
    b = plan_shift(cells, ward_code=WARD, date=DAY, seed=7, officers=2)
    pd.testing.assert_frame_equal(a.visits, b.visits)
    pd.testing.assert_frame_equal(a.cells, b.cells)
    assert a.plan_id == b.plan_id and plan_to_dict(a) == plan_to_dict(b)
    assert plan_shift(cells, ward_code=WARD, date=DAY, seed=8).plan_id != a.plan_id


def test_different_dates_different_times(cells: pd.DataFrame) -> None:
    def offsets(day: dt.date) -> tuple[float, ...]:
        plan = plan_shift(cells, ward_code=WARD, date=day, top=4)
        return tuple((plan.visits["arrive"] - plan.start).dt.total_seconds() / 60)

    days = [DAY + dt.timedelta(days=i) for i in range(7)]
    timetables = [offsets(day) for day in days]
    assert len({t[0] for t in timetables}) > 1  # the first arrival moves
    assert len(set(timetables)) == len(days)
    assert offsets(days[0]) == timetables[0]


def test_shift_across_midnight(cells: pd.DataFrame) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, start=dt.time(22), hours=6)
    assert plan.end == dt.datetime(2025, 4, 1, 4, 0)
    assert plan.visits["leave"].max() <= plan.end


# --- officers -----------------------------------------------------------------------------

@pytest.mark.parametrize("officers", [1, 2, 3, 7, 10])
def test_officers_split_covers_every_cell_once(cells: pd.DataFrame, officers: int) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=7, officers=officers)
    c = plan.cells
    assert c["h3_cell"].is_unique and len(c) == 7
    assert c["officer"].is_monotonic_increasing  # contiguous stretches of the tour
    sizes = c.groupby("officer").size()
    assert sizes.max() - sizes.min() <= 1 and len(sizes) == min(officers, 7)
    mine = dict(zip(c["h3_cell"], c["officer"], strict=True))
    assert (plan.visits["h3_cell"].map(mine) == plan.visits["officer"]).all()
    assert set(plan.visits["h3_cell"]) == set(c["h3_cell"])


def test_officer_groups() -> None:
    assert officer_groups(5, 2).tolist() == [1, 1, 1, 2, 2]
    assert officer_groups(0, 3).tolist() == []


def test_tour_length_is_summed_per_officer(cells: pd.DataFrame) -> None:
    one = plan_shift(cells, ward_code=WARD, date=DAY, top=6)
    two = plan_shift(cells, ward_code=WARD, date=DAY, top=6, officers=2)
    assert one.tour_length_m == pytest.approx(tour_length_m(one.cells))
    assert 0 < two.tour_length_m <= one.tour_length_m


# --- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(hours=0.5), "hours must be a number from 1 to 12, got 0.5"),
    (dict(hours=13), "hours"),
    (dict(hours="8"), "hours"),
    (dict(hours=True), "hours"),
    (dict(hours=math.nan), "hours"),
    (dict(officers=0), "officers must be an integer from 1 to 10, got 0"),
    (dict(officers=11), "officers"),
    (dict(officers=1.5), "officers"),
    (dict(start="18:00"), "start must be a datetime.time"),
    (dict(start=dt.time(18, tzinfo=dt.UTC)), "without a time zone"),
    (dict(date=dt.datetime(2025, 3, 31, 18)), "date must be a datetime.date"),
    (dict(date="2025-03-31"), "date"),
    (dict(ward_code=""), "ward_code"),
    (dict(speed_kmh=0), "speed_kmh"),
    (dict(top=0), "top must be an integer"),
])
def test_bad_inputs(cells: pd.DataFrame, kwargs: dict, match: str) -> None:
    args = dict(ward_code=WARD, date=DAY) | kwargs
    with pytest.raises(ValueError, match=match):
        plan_shift(cells, **args)


# --- plan against done --------------------------------------------------------------------

def test_plan_vs_done(cells: pd.DataFrame) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=4)
    a, b = plan.cells["h3_cell"].iloc[0], plan.cells["h3_cell"].iloc[1]
    outside = next(c for c in DISK if c not in set(plan.cells["h3_cell"]))
    t = plan.start
    m = dt.timedelta(minutes=1)
    activities = pd.DataFrame({
        "h3_cell": [a, a.upper(), b, outside, a, a],
        "started_at": [t, t + 120 * m, t, t, t, t],
        "ended_at": [t + 12 * m, None, t + 10 * m, t + 5 * m, t + 30 * m, t + 30 * m],
        "jag_ref": [plan.plan_id, f" {plan.plan_id} ", "PP-OTHER", plan.plan_id, None, ""],
    })
    out = plan_vs_done(plan, activities)
    assert list(out.columns) == list(DONE_COLUMNS)
    assert out["h3_cell"].tolist() == [*plan.cells["h3_cell"], ""]
    row = out.set_index("h3_cell")
    assert row.loc[a, ["done_visits", "done_minutes", "done_unknown_minutes"]].tolist() \
        == [2, 12.0, 1]
    assert row.loc[a, "status"] == "visited"
    assert row.loc[b, "done_visits"] == 0 and row.loc[b, "status"] == "not visited"
    planned = plan.visits.groupby("h3_cell").size()
    assert (row.loc[planned.index, "planned_visits"] == planned).all()
    minutes = plan.visits.groupby("h3_cell")["dwell_minutes"].sum()
    assert (row.loc[minutes.index, "planned_minutes"] == minutes).all()
    extra = out.iloc[-1]
    assert extra["label"] == NOT_IN_PLAN and extra["status"] == NOT_IN_PLAN
    assert extra["done_visits"] == 1 and extra["done_minutes"] == 5.0


def test_plan_vs_done_nothing_done(cells: pd.DataFrame) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=3)
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in
                          ("h3_cell", "started_at", "ended_at", "jag_ref")})
    out = plan_vs_done(plan, empty)
    assert len(out) == 4 and (out["done_visits"] == 0).all()
    assert (out["status"].iloc[:-1] == "not visited").all()
    with pytest.raises(ValueError, match="missing column.*jag_ref"):
        plan_vs_done(plan, empty.drop(columns="jag_ref"))


# --- JSON, GPX and KML --------------------------------------------------------------------

def test_plan_to_dict_is_json(cells: pd.DataFrame) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, officers=2)
    data = json.loads(json.dumps(plan_to_dict(plan), allow_nan=False))
    assert data["plan_id"] == plan.plan_id and data["start"] == "2025-03-31T18:00:00"
    assert len(data["cells"]) == len(plan.cells) and len(data["visits"]) == len(plan.visits)
    assert set(data["cells"][0]) == {"officer", "order", "label", "h3_cell", "lat", "lng",
                                     "score", "category", "dwell_minutes",
                                     "share_of_ward_score"}
    assert dt.datetime.fromisoformat(data["visits"][0]["arrive"]) == plan.visits["arrive"][0]


@pytest.mark.parametrize("officers", [1, 3])
def test_gpx_waypoints_and_routes(cells: pd.DataFrame, officers: int) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, officers=officers)
    gpx = gpxpy.parse(to_gpx(plan))
    assert gpx.version == "1.1" and gpx.creator == "placerisk"
    assert len(gpx.waypoints) == len(plan.cells)
    assert [w.name for w in gpx.waypoints] == plan.cells["label"].tolist()
    np.testing.assert_allclose([w.latitude for w in gpx.waypoints], plan.cells["lat"], atol=1e-6)
    np.testing.assert_allclose([w.longitude for w in gpx.waypoints], plan.cells["lng"],
                               atol=1e-6)
    visits = plan.visits.groupby("h3_cell").size()
    first = plan.cells.iloc[0]
    assert gpx.waypoints[0].description == (
        f"visit {visits[first['h3_cell']]} times, dwell {first['dwell_minutes']} min, "
        f"score {first['score']:.3g}")
    assert len(gpx.routes) == officers
    for number, route in enumerate(gpx.routes, start=1):
        mine = plan.cells[plan.cells["officer"] == number]
        assert [p.name for p in route.points] == mine["label"].tolist()
    assert ET.fromstring(to_gpx(plan)).tag == f"{{{GPX_NS}}}gpx"


@pytest.mark.parametrize("hexagons", [True, False])
def test_kml_placemarks_in_lng_lat_order(cells: pd.DataFrame, hexagons: bool) -> None:
    plan = plan_shift(cells, ward_code=WARD, date=DAY, top=6, officers=2)
    root = ET.fromstring(to_kml(plan, hexagons=hexagons))
    assert root.tag == f"{K}kml"
    assert len(root.findall(f"{K}Document/{K}Placemark")) == len(plan.cells) + 2
    points = [e.text for e in root.iter(f"{K}coordinates")]
    triples = np.array([t.split(",") for text in points for t in (text or "").split()], float)
    assert np.all((triples[:, 0] > -1.4) & (triples[:, 0] < -1.2))  # lng first
    assert np.all((triples[:, 1] > 54.5) & (triples[:, 1] < 54.6))  # then lat
    centres = [p.find(f"{K}coordinates").text for p in root.iter(f"{K}Point")]
    expected = [f"{lng:.6f},{lat:.6f},0" for lat, lng in zip(plan.cells["lat"],
                                                             plan.cells["lng"], strict=True)]
    assert centres == expected
    assert len(list(root.iter(f"{K}Polygon"))) == (len(plan.cells) if hexagons else 0)


def test_text_is_escaped(cells: pd.DataFrame) -> None:
    nasty = cells.assign(ward_code=cells["ward_code"].replace(WARD, NASTY))
    plan = plan_shift(nasty, ward_code=NASTY, date=DAY, top=3)
    plan = dataclasses.replace(plan, cells=plan.cells.assign(label=NASTY))
    gpx_text, kml_text = to_gpx(plan), to_kml(plan)
    assert "<script>" not in gpx_text and "<script>" not in kml_text
    gpx = gpxpy.parse(gpx_text)
    assert NASTY in gpx.name and {w.name for w in gpx.waypoints} == {NASTY}
    kml = ET.fromstring(kml_text)
    assert NASTY in kml.find(f"{K}Document/{K}name").text
    assert {p.find(f"{K}name").text for p in kml.iter(f"{K}Placemark")} >= {NASTY}
    assert plan.plan_id.startswith("PP-250331-") and NASTY not in plan.plan_id
