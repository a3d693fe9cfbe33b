"""The space-time cube: steps, spreading, sources kept apart, decay, place levels."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from layers.hotspots.cube import PATROL, build_cube, decay_factors, make_steps, spread
from layers.hotspots.cube_events import incident_events, place_events, report_events
from layers.hotspots.weights import Weights, WeightsError, load_weights


def events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["key", "start", "days", "weight", "source", "record"]
                        ).astype({"start": "datetime64[s]"})


def test_weeks_start_on_monday_and_end_with_the_as_of_week():
    steps = make_steps(dt.date(2025, 6, 1), kind="week", count=104)  # a Sunday
    assert len(steps) == 104
    assert all(pd.Timestamp(d).day_of_week == 0 for d in steps.starts)
    assert str(steps.starts[-1]) == "2025-05-26" and str(steps.ends[-1]) == "2025-06-02"
    assert np.all(steps.starts[1:] == steps.ends[:-1])


def test_months():
    steps = make_steps(dt.date(2024, 3, 31), kind="month", count=3)
    assert steps.labels == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert [str(e) for e in steps.ends] == ["2024-02-01", "2024-03-01", "2024-04-01"]


@pytest.mark.parametrize("kind", ["day", ""])
def test_unknown_step_kind(kind):
    with pytest.raises(ValueError, match="step must be one of week, month"):
        make_steps(dt.date(2025, 1, 1), kind=kind)


def test_a_month_spreads_over_weeks_by_days_and_keeps_its_total():
    steps = make_steps(dt.date(2024, 3, 10), kind="week", count=12)
    ev = events([(1, "2024-02-01", 29, 29.0, "incidents", "i1")])
    row, col, share = spread(ev, steps)
    assert share.sum() == pytest.approx(29.0)
    by_week = {steps.labels[c]: s for c, s in zip(col, share, strict=True)}
    assert by_week["2024-01-29"] == pytest.approx(4.0)  # Thu 1 - Sun 4 Feb
    assert by_week["2024-02-05"] == pytest.approx(7.0)
    assert by_week["2024-02-26"] == pytest.approx(4.0)  # Mon 26 - Thu 29 Feb


def test_events_outside_the_window_are_ignored():
    steps = make_steps(dt.date(2024, 3, 10), kind="week", count=2)
    ev = events([(1, "2020-01-01", 1, 5.0, "reports", "old"),
                 (1, "2024-03-05", 1, 2.0, "reports", "in"),
                 (1, "2024-04-05", 1, 3.0, "reports", "future")])
    cube = build_cube(ev, steps)
    assert cube.values().sum() == pytest.approx(2.0)


def test_sources_are_kept_apart_and_patrol_left_out_by_default():
    steps = make_steps(dt.date(2024, 3, 10), kind="week", count=2)
    ev = events([(7, "2024-03-05", 1, 2.0, "reports", "r1"),
                 (7, "2024-03-05", 1, 1.0, PATROL, "r2"),
                 (3, "2024-02-27", 1, 4.0, "places", "p1")])
    cube = build_cube(ev, steps)
    assert cube.keys.tolist() == [3, 7]
    assert cube.values().tolist() == [[4.0, 0.0], [0.0, 2.0]]
    assert cube.values(include_patrol=True).tolist() == [[4.0, 0.0], [0.0, 3.0]]
    assert cube.parts[PATROL].sum() == 1.0


def test_decay_halves_every_half_life_of_step_age():
    steps = make_steps(dt.date(2025, 3, 9), kind="week", count=5)
    factors = decay_factors(steps, as_of=dt.date(2025, 3, 9), half_life_days=14)
    assert factors[1:] / factors[:-1] == pytest.approx([2 ** 0.5] * 4)
    partial = decay_factors(steps, as_of=dt.date(2025, 3, 3), half_life_days=14)
    assert partial[-1] == 1.0  # the as-of step holds only its first day


def test_report_and_incident_weights_and_the_patrol_rule():
    w = Weights()
    rep = report_events(pd.DataFrame({
        "key": [1, 1, 2], "source_id": ["a", "b", "c"],
        "reported_on": [dt.date(2025, 1, 1)] * 3, "mace_level": [4, 1, 3],
        "patrol_discovered": [False, False, True]}), w)
    assert rep["weight"].tolist() == [4.0, 0.0, 2.0]
    assert rep["source"].tolist() == ["reports", "reports", PATROL]
    inc = incident_events(pd.DataFrame({
        "key": [1, 1, 1], "incident_key": ["x", "y", "z"], "month": ["2024-02"] * 3,
        "crime_type": ["Violence and sexual offences", "Drugs", "Something new"]}), w)
    assert inc["days"].tolist() == [29, 29, 29]
    assert inc["weight"].tolist() == [1.0, 0.4, w.other_crime_type]
    assert inc["source"].tolist() == ["incidents", PATROL, "incidents"]


def test_place_levels_follow_the_history():
    steps = make_steps(dt.date(2025, 1, 26), kind="week", count=4)  # weeks from 30 Dec
    places = pd.DataFrame({"id": [1], "key": [9], "source_id": ["P1"]})
    history = pd.DataFrame({"place_id": [1, 1], "changed_on": [dt.date(2025, 1, 3),
                                                               dt.date(2025, 1, 15)],
                            "to_level": [2, 4]})
    ev = place_events(places, history, steps, Weights())
    cube = build_cube(ev, steps)
    # level 2 in force at the end of weeks 1-2 (5 and 12 Jan), level 4 from 19 Jan
    two, four = Weights().place_levels[2], Weights().place_levels[4]
    assert cube.parts["places"][0].tolist() == [two, two, four, four]


def test_weights_file_overrides_and_errors(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('half_life_days = 30\n[report_levels]\n4 = 10\n'
                    '[crime_types]\n"Shoplifting" = 0.5\n[patrol]\ninclude = true\n')
    w = load_weights(path)
    assert w.report_levels[4] == 10.0 and w.report_levels[3] == 2.0
    assert w.crime_types["Shoplifting"] == 0.5 and w.include_patrol
    assert w.half_life_days == 30
    for bad, match in [("[report_levels]\n5 = 1\n", "not a MACE level"),
                       ("half_life_days = 0\n", "positive"),
                       ("colour = 1\n", "unknown key"),
                       ("[crime_types]\nDrugs = -1\n", ">= 0"),
                       ("= broken", "cannot read")]:
        path.write_text(bad)
        with pytest.raises(WeightsError, match=match):
            load_weights(path)


def test_rollup_to_coarser_cells_keeps_totals():
    from geo import h3index
    from layers.hotspots.cube import rollup

    rng = np.random.default_rng(3)
    cells = h3index.latlng_to_cells(rng.uniform(54.5, 54.65, 200), rng.uniform(-1.4, -1.2, 200),
                                    resolution=9)
    steps = make_steps(dt.date(2025, 3, 9), kind="week", count=4)
    ev = events([(c, "2025-02-20", 1, 1.0, "reports", "r") for c in cells]
                + [(c, "2025-03-04", 1, 2.0, PATROL, "p") for c in cells[:10]])
    cube = build_cube(ev, steps)
    for res in (8, 7):
        coarse = rollup(cube, h3index.cells_to_parents(cube.keys, resolution=res))
        assert len(coarse.keys) < len(cube.keys)
        for name in cube.parts:
            np.testing.assert_allclose(coarse.parts[name].sum(axis=0),
                                       cube.parts[name].sum(axis=0))
        assert set(coarse.keys) == set(h3index.cells_to_parents(cells, resolution=res))
    wards = rollup(cube, np.where(np.arange(len(cube.keys)) % 2, "W1", "W2"))
    assert wards.keys.tolist() == ["W1", "W2"]
    assert wards.values().sum() == pytest.approx(cube.values().sum())
