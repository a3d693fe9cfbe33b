"""The outcome table from a store: inputs read right, verdicts right, cache key moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from layers.action.outcomes import inputs as outcome_inputs
from layers.action.outcomes import measures as outcomes
from layers.action.outcomes import table as disruptions
from layers.records.importer import import_file, import_police_uk
from layers.store.engine import Store, replace_areas
from tests.api.conftest import POLICE_UK, _write, make_areas

START = dt.date(2025, 4, 1)
AS_OF = dt.date(2025, 9, 1)  # a fixed "today": every after window of START is over
AT = {"latitude": 54.575, "longitude": -1.34}  # in the west box ward E05000001
FAR = {"latitude": 54.57, "longitude": -1.31}  # in the east box ward


def _day(offset: int) -> str:
    return (START + dt.timedelta(days=offset)).isoformat()


def _reports() -> list[dict]:
    before = [{"report_id": f"B{i}", "reported_on": _day(-88 + 4 * i), "mace_level": 3, **AT}
              for i in range(20)]
    after = [{"report_id": f"A{i}", "reported_on": _day(10 + 30 * i), "mace_level": 3, **AT}
             for i in range(2)]
    # patrol-discovered reports after the closure must not count for or against it
    patrol = [{"report_id": f"P{i}", "reported_on": _day(5 + i), "mace_level": 4,
               "patrol_discovered": "true", **AT} for i in range(15)]
    end = [{"report_id": "END", "reported_on": _day(100), "mace_level": 2, **FAR}]
    return before + after + patrol + end


ACTIVITIES = [
    {"activity_id": "CLOSE-1", "activity_type": "premises_closure",
     "started_at": f"{START}T09:00", "jag_ref": "JAG-7", **AT},
    {"activity_id": "VISIT-1", "activity_type": "licensing_visit",
     "started_at": f"{START}T15:00", "jag_ref": "JAG-7", **AT},
]


def _fill(store: Store, folder: Path) -> None:
    replace_areas(store, make_areas(), source="test")
    for kind, rows in (("reports", _reports()), ("activities", ACTIVITIES)):
        result = import_file(store, kind, _write(folder / f"{kind}.csv", rows))
        assert result.rejected == 0, result.messages


def test_a_closure_that_worked(store: Store, tmp_path: Path) -> None:
    _fill(store, tmp_path)
    with store.connect() as conn:
        inputs = outcome_inputs.load_outcome_inputs(conn)
    assert inputs.unlocated == 0 and len(inputs.activities) == 2
    assert len(inputs.reports) == 23  # the 15 patrol-discovered ones are left out
    assert inputs.data_end == START + dt.timedelta(days=100)
    assert set(inputs.activities["id"]) == {"CLOSE-1", "VISIT-1"}  # the analyst's own ids
    table = disruptions.disruption_table(inputs, days=90, as_of=AS_OF)
    closure = table[table["id"] == "CLOSE-1"].iloc[0]
    assert (closure["reports_Rb"], closure["reports_Ra"]) == (20, 2)
    assert closure["reports_code"] == "worked" and closure["complete"]
    assert closure["reports_gross_effect"] == pytest.approx(-0.9)
    # harm weights: level 3 = 2.0 each
    assert (closure["harm_Rb"], closure["harm_Ra"]) == (40.0, 4.0)
    campaign = table[table["level"] == "campaign"].iloc[0]
    assert campaign["id"] == "JAG-7"
    assert campaign["activity_type"] == "licensing_visit+premises_closure"
    summary = disruptions.by_type(table).set_index("activity_type")
    assert summary.loc["premises_closure", "worked"] == 1
    assert summary.loc["premises_closure", "share_worked"] == 1.0


def test_crime_measure_and_fingerprint(store: Store, tmp_path: Path) -> None:
    _fill(store, tmp_path)
    with store.connect() as conn:
        before = outcome_inputs.fingerprint(conn)
    import_police_uk(store, _write(tmp_path / "street.csv", POLICE_UK))
    with store.connect() as conn:
        assert outcome_inputs.fingerprint(conn) != before
        inputs = outcome_inputs.load_outcome_inputs(conn, crime_types=["Drugs"])
    assert len(inputs.crimes) == 1 and str(inputs.crimes["day"].iloc[0]) == "2025-06-15"
    table = disruptions.disruption_table(inputs, days=90, as_of=AS_OF)
    assert "crime_code" in table.columns and "crime_Ra" in table.columns


def test_empty_store_gives_an_empty_table(store: Store) -> None:
    with store.connect() as conn:
        inputs = outcome_inputs.load_outcome_inputs(conn)
    assert disruptions.disruption_table(inputs, as_of=AS_OF).empty


def test_no_verdict_and_no_after_figure_while_the_after_window_runs(store: Store,
                                                                    tmp_path: Path) -> None:
    _fill(store, tmp_path)
    with store.connect() as conn:
        inputs = outcome_inputs.load_outcome_inputs(conn)
    day_31 = START + dt.timedelta(days=30)
    table = disruptions.disruption_table(inputs, days=90, as_of=day_31)
    closure = table[table["id"] == "CLOSE-1"].iloc[0]
    assert (closure["complete"], closure["after_day"], closure["after_days"]) == (False, 31, 90)
    for measure in ("reports", "harm"):
        assert closure[f"{measure}_code"] == outcomes.TOO_EARLY
        assert closure[f"{measure}_verdict"] == (
            "Day 31 of 90 of the after window (it ends on 2025-06-29): no verdict until it "
            "is over.")
        for field in ("Ra", "gross_effect", "wdq", "wdd", "wdd_p", "wdd_ci_low", "local_p"):
            assert pd.isna(closure[f"{measure}_{field}"]), field
    assert closure["reports_Rb"] == 20  # the before window is over: its count stands
    assert disruptions.by_type(table)["measured"].sum() == 0
    # the same figures, read once the window is over
    done = disruptions.judged(disruptions.measure(inputs, days=90), days=90, as_of=AS_OF,
                              data_end=inputs.data_end)
    assert done.set_index("id").loc["CLOSE-1", "reports_code"] == "worked"
