"""Explanations add up to the engine's current scores, by source and by record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings

from geo import h3index
from layers.hotspots.cube import (
    EVENT_COLUMNS,
    PATROL,
    SOURCES,
    build_cube,
    decay_factors,
    make_steps,
)
from layers.hotspots.engine import HotSpots, ScoreParams, events_for, score_hotspots
from layers.hotspots.explain import explain, weights_from_dict
from layers.hotspots.inputs import ScoreInputs
from layers.hotspots.weights import Weights

AS_OF = dt.date(2025, 6, 25)  # a Wednesday: the last week is cut at the as-of date
GRID = h3index.polygon_to_cells(shapely.box(-1.40, 54.52, -1.30, 54.58), resolution=9,
                                contain="overlap")
MIXED, PATROL_ONLY, PLACE_CELL, QUIET = (int(c) for c in GRID[[40, 120, 200, 280]])
WARD = {MIXED: "W1", PATROL_ONLY: "W1", PLACE_CELL: "W2", QUIET: "W2"}


def _reports() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [(MIXED, AS_OF - dt.timedelta(days=int(d)), int(lv), False)
            for d, lv in zip(rng.integers(0, 700, 60), rng.integers(1, 5, 60), strict=True)]
    rows += [(MIXED, AS_OF - dt.timedelta(days=int(d)), 3, True) for d in (3, 40, 200)]
    rows += [(PATROL_ONLY, AS_OF - dt.timedelta(days=int(d)), lv, True)
             for d, lv in ((1, 4), (15, 3), (90, 2))]
    rows += [(QUIET, AS_OF - dt.timedelta(days=900), 4, False)]  # before the first step
    frame = pd.DataFrame(rows, columns=["key", "reported_on", "mace_level", "patrol_discovered"])
    frame["key"] = frame["key"].astype(np.uint64)
    frame["source_id"] = [f"R{i}" for i in range(len(frame))]
    frame["ward_code"] = frame["key"].map(lambda k: WARD[int(k)])
    return frame


def _incidents() -> pd.DataFrame:
    months = ["2024-11", "2025-02", "2025-05", "2025-06", "2023-06"]
    types = ["Violence and sexual offences", "Drugs", "Anti-social behaviour", "Robbery",
             "Burglary"]
    frame = pd.DataFrame({"incident_key": [f"I{i}" for i in range(5)],
                          "key": np.array([MIXED] * 4 + [PLACE_CELL], dtype=np.uint64),
                          "month": months, "crime_type": types})
    frame["ward_code"] = frame["key"].map(lambda k: WARD[int(k)])
    return frame


def _places() -> tuple[pd.DataFrame, pd.DataFrame]:
    places = pd.DataFrame({"id": [1, 2], "source_id": ["P1", "P2"],
                           "key": np.array([PLACE_CELL, MIXED], dtype=np.uint64),
                           "ward_code": ["W2", "W1"]})
    history = pd.DataFrame({"place_id": [1, 1, 2],
                            "changed_on": [dt.date(2024, 1, 10), dt.date(2025, 3, 1),
                                           dt.date(2024, 9, 1)],
                            "to_level": [3, 4, 2]})
    return places, history


def make_inputs() -> ScoreInputs:
    places, history = _places()
    return ScoreInputs(_reports(), _incidents(), places, history, GRID, 9,
                       dt.datetime(2025, 7, 1, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def inputs() -> ScoreInputs:
    return make_inputs()


@pytest.fixture(scope="module", params=[Weights(), Weights(half_life_days=30.0,
                                                           include_patrol=True)],
                ids=["default", "patrol-included"])
def run(request: pytest.FixtureRequest, inputs: ScoreInputs) -> HotSpots:
    return score_hotspots(inputs, ScoreParams(as_of=AS_OF, weights=request.param))


def _cell_events(inputs: ScoreInputs, h: HotSpots, cell: int) -> pd.DataFrame:
    events = events_for(inputs, h.steps, h.params.weights)
    return events[events["key"] == np.uint64(cell)]


def _explain_cell(inputs: ScoreInputs, h: HotSpots, cell: int, top: int = 10):
    return explain(_cell_events(inputs, h, cell), h.steps, as_of=AS_OF,
                   weights=h.params.weights, top=top)


@pytest.mark.parametrize("cell", [MIXED, PATROL_ONLY, PLACE_CELL, QUIET])
def test_cell_parts_sum_to_the_engines_current_score(inputs, run, cell):
    e = _explain_cell(inputs, run, cell)
    i = int(np.searchsorted(run.cells, np.uint64(cell)))
    assert run.cells[i] == cell
    np.testing.assert_allclose(e.score, run.current[i], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sum(e.by_source.values()), e.total, rtol=1e-12)
    factors = decay_factors(run.steps, as_of=AS_OF, half_life_days=run.params.weights
                            .half_life_days)
    for source in SOURCES:
        np.testing.assert_allclose(e.by_source[source], run.parts[source][i] @ factors,
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e.patrol, run.parts[PATROL][i] @ factors, rtol=1e-12,
                               atol=1e-12)


def test_independent_total_is_the_stored_current_by_default(inputs):
    h = score_hotspots(inputs, ScoreParams(as_of=AS_OF))
    e = _explain_cell(inputs, h, MIXED)
    i = int(np.searchsorted(h.cells, np.uint64(MIXED)))
    assert e.total == pytest.approx(h.current[i], rel=1e-12)
    assert e.total == e.score and e.patrol > 0 and all(e.by_source[s] > 0 for s in SOURCES)


def test_ward_parts_sum_to_the_engines_ward_score(inputs, run):
    events = events_for(inputs, run.steps, run.params.weights, key="ward_code")
    wards = run.wards.set_index("ward_code")
    assert set(wards.index) == {"W1", "W2"}
    for code, ward in wards.iterrows():
        e = explain(events[events["key"] == code], run.steps, as_of=AS_OF,
                    weights=run.params.weights)
        assert e.score == pytest.approx(ward["current"], rel=1e-12)
        if not run.params.weights.include_patrol:
            assert e.patrol_share == pytest.approx(ward["patrol_share"], rel=1e-12)


def test_patrol_only_cell_has_no_independent_score(inputs):
    h = score_hotspots(inputs, ScoreParams(as_of=AS_OF))
    e = _explain_cell(inputs, h, PATROL_ONLY)
    assert e.total == 0.0 and e.by_source == dict.fromkeys(SOURCES, 0.0)
    assert e.patrol > 0 and e.patrol_share == 1.0
    assert [(r.kind, r.source) for r in e.top] == [("report", PATROL)] * 3
    assert h.current[np.searchsorted(h.cells, np.uint64(PATROL_ONLY))] == 0.0


def test_top_records(inputs):
    h = score_hotspots(inputs, ScoreParams(as_of=AS_OF))
    every = _explain_cell(inputs, h, MIXED, top=1000)
    assert every.records == len(every.top) > 10
    contributions = [r.contribution for r in every.top]
    assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
    assert sum(contributions) == pytest.approx(every.total + every.patrol, rel=1e-12)
    for r in every.top:
        assert r.contribution == pytest.approx(r.weight * r.decay, rel=1e-12)
        assert 0 < r.decay <= 1
    assert _explain_cell(inputs, h, MIXED).top == every.top[:10]
    factors = decay_factors(h.steps, as_of=AS_OF, half_life_days=h.params.weights.half_life_days)
    report = next(r for r in every.top if r.kind == "report")
    step = np.searchsorted(h.steps.ends, np.datetime64(report.date), side="right")
    assert (report.events, report.decay) == (1, pytest.approx(factors[step], rel=1e-12))
    # level-1 reports weigh nothing and are not listed
    zero = set(_reports().query("key == @MIXED and mace_level == 1")["source_id"])
    assert zero and not zero & {r.record for r in every.top if r.kind == "report"}


def test_a_place_adds_one_event_per_step_at_its_level(inputs):
    h = score_hotspots(inputs, ScoreParams(as_of=AS_OF))
    e = _explain_cell(inputs, h, PLACE_CELL, top=1000)
    (place,) = [r for r in e.top if (r.kind, r.record) == ("place", "P1")]
    steps_in_force = int(np.sum(h.steps.ends - 1 >= np.datetime64("2024-01-10")))
    assert place.events == steps_in_force
    assert place.date == (h.steps.ends[-1] - 1).astype(dt.date)
    assert e.by_source["places"] == pytest.approx(place.contribution, rel=1e-12)


def test_nothing_to_explain():
    steps = make_steps(AS_OF, count=10)
    empty = pd.DataFrame(columns=list(EVENT_COLUMNS))
    e = explain(empty, steps, as_of=AS_OF, weights=Weights())
    assert (e.total, e.patrol, e.patrol_share, e.records, e.top) == (0.0, 0.0, 0.0, 0, [])


def test_as_dict_is_json_ready(inputs):
    h = score_hotspots(inputs, ScoreParams(as_of=AS_OF))
    d = _explain_cell(inputs, h, MIXED, top=3).as_dict()
    back = json.loads(json.dumps(d))
    assert set(back) == {"as_of", "half_life_days", "total", "by_source", "patrol",
                         "patrol_share", "include_patrol", "score", "records", "top"}
    assert back["as_of"] == AS_OF.isoformat() and len(back["top"]) == 3
    assert set(back["top"][0]) == {"kind", "record", "source", "date", "weight", "decay",
                                   "contribution", "events"}


def test_bad_arguments(inputs):
    h = score_hotspots(inputs, ScoreParams(as_of=AS_OF))
    events = events_for(inputs, h.steps, h.params.weights)
    with pytest.raises(ValueError, match="one cell or ward, got 4 keys"):
        explain(events, h.steps, as_of=AS_OF, weights=Weights())
    with pytest.raises(ValueError, match="top: expected a number of records >= 0, got -1"):
        explain(_cell_events(inputs, h, MIXED), h.steps, as_of=AS_OF, weights=Weights(), top=-1)


def test_weights_round_trip_through_a_runs_params():
    w = dataclasses.replace(Weights(), report_levels={4: 5.0, 3: 2.5, 2: 1.0, 1: 0.0},
                            crime_types={"Robbery": 2.0}, patrol_generated=("Drugs",),
                            other_crime_type=0.2)
    stored = json.loads(json.dumps(ScoreParams(as_of=AS_OF, weights=w).as_dict()))
    assert weights_from_dict(stored["weights"]) == w


EVENT = st.tuples(st.integers(-120, 40), st.integers(1, 31),
                  st.floats(0, 10, allow_nan=False), st.sampled_from([*SOURCES, PATROL]))


@settings(max_examples=60, deadline=None)
@given(st.lists(EVENT, max_size=25), st.sampled_from(["week", "month"]),
       st.floats(1, 400))
def test_parts_equal_the_cube_for_any_events(rows, kind, half_life):
    steps = make_steps(AS_OF, kind=kind, count=6)
    events = pd.DataFrame({
        "key": np.ones(len(rows), dtype=np.uint64),
        "start": np.array([np.datetime64(AS_OF) + d for d, *_ in rows],
                          dtype="datetime64[D]").astype("datetime64[s]"),
        "days": [r[1] for r in rows], "weight": [r[2] for r in rows],
        "source": [r[3] for r in rows], "kind": "report",
        "record": [f"r{i}" for i in range(len(rows))]})
    cube = build_cube(events, steps)
    e = explain(events, steps, as_of=AS_OF, weights=Weights(half_life_days=half_life),
                top=100)
    factors = decay_factors(steps, as_of=AS_OF, half_life_days=half_life)
    expected = cube.values() @ factors if len(cube.keys) else np.zeros(1)
    assert e.total == pytest.approx(float(expected.sum()), rel=1e-9, abs=1e-9)
    assert sum(r.contribution for r in e.top) == pytest.approx(e.total + e.patrol, rel=1e-9,
                                                               abs=1e-9)


def test_equal_ids_of_different_kinds_stay_apart():
    """Records are told apart by their kind, patrol records included."""
    steps = make_steps(AS_OF, count=10)
    events = pd.DataFrame({
        "key": np.ones(4, dtype=np.uint64),
        "start": pd.to_datetime(["2025-06-20", "2025-05-01", "2025-06-22", "2025-06-10"]
                                ).astype("datetime64[s]"),
        "days": [1, 31, 1, 1], "weight": [1.0, 2.0, 0.5, 3.0],
        "source": [PATROL, PATROL, "places", "reports"],
        "kind": ["report", "incident", "place", "report"], "record": ["7", "7", "7", "8"]})
    e = explain(events, steps, as_of=AS_OF, weights=Weights())
    assert {(r.kind, r.record, r.source) for r in e.top} == {
        ("report", "7", PATROL), ("incident", "7", PATROL), ("place", "7", "places"),
        ("report", "8", "reports")}
    assert e.records == 4
