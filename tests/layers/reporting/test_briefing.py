"""The JAG briefing pack's sections: `layers.reporting.briefing`, on hand-built frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from geo import h3index
from layers.action.outcomes.measures import TOO_EARLY
from layers.hotspots.emerging import INTENSIFYING_HOT, PERSISTENT_HOT, SPORADIC_HOT
from layers.reporting import briefing as b

MEETING = dt.date(2025, 7, 1)
SINCE = dt.date(2025, 6, 3)
STARTS = [dt.date(2025, 6, 2), dt.date(2025, 6, 9), dt.date(2025, 6, 16), dt.date(2025, 6, 23)]
WARDS = pd.DataFrame({"code": ["W1", "W2"], "name": ["North Box", "South Box"]})


def cell_ids(n: int) -> list[str]:
    """``n`` real, distinct H3 cells near Stockton (resolution 9)."""
    centre = h3index.latlng_to_cells(np.array([54.575]), np.array([-1.32]), resolution=9)
    return sorted(h3index.grid_disk(str(h3index.cells_to_str(centre)[0]), 2))[:n]


CELLS = cell_ids(8)
A, B, C, D, E, F, G, H = CELLS


def states() -> pd.DataFrame:
    # since 2025-06-10 lies in the second step (index 1); the last step is index 3
    return pd.DataFrame({"h3_cell": CELLS, "states": [
        "..hh",  # A: not hot then, hot now: new
        "hhhh",  # B: hot at both, category intensifying: intensifying
        "hhhh",  # C: hot at both, persistent but a significant rising trend: intensifying
        "hhhh",  # D: hot at both, no rising trend: steady, left out
        "hh..",  # E: hot then, not now: fading
        ".h.c",  # F: hot then, cold now: fading
        "c...",  # G: never hot at the two steps
        "..h.",  # H: hot in between only
    ]})


def cells() -> pd.DataFrame:
    return pd.DataFrame({
        "h3_cell": CELLS,
        "score": [5.0, 9.0, 7.0, 8.0, 1.0, 2.0, 0.0, 3.0],
        "category": [SPORADIC_HOT, INTENSIFYING_HOT, PERSISTENT_HOT, PERSISTENT_HOT,
                     "historical hot spot", "oscillating cold spot", "no pattern",
                     SPORADIC_HOT],
        "z_last": [3.0, 4.0, 3.5, 3.2, 0.5, -2.5, 0.1, 0.2],
        "trend_z": [1.0, 0.5, 3.0, 1.0, -2.0, -3.0, 0.0, 0.0],
        "ward_code": ["W1", "W1", "W2", "W2", "W1", None, "W1", "W2"],
    })


def places() -> pd.DataFrame:
    rows = [  # id, source_id, name, ward, level, review_due, status
        (1, "P1", "Zed Takeaway", "W1", 4, dt.date(2025, 6, 1), "open"),
        (2, "P2", "Alpha Park", "W1", 4, dt.date(2025, 7, 1), "monitoring"),
        (3, "P3", "Beta Flats", "W1", 4, dt.date(2025, 7, 15), "open"),
        (4, "P4", "Corner Shop", "W1", 3, dt.date(2025, 7, 16), "open"),
        (5, "P5", "Youth Club", "W2", 1, None, "open"),
        (6, "P6", "Old Garage", "W1", 4, dt.date(2025, 6, 1), "closed"),
        (7, "P7", "Out of Area", None, 4, dt.date(2025, 6, 20), "open"),
        (8, "P8", "Bus Stop", "W1", 2, dt.date(2024, 1, 1), "open"),
    ]
    frame = pd.DataFrame(rows, columns=["id", "source_id", "name", "ward_code", "mace_level",
                                        "review_due", "status"], dtype=object)
    frame["lat"] = [54.57 + i / 1000 for i in range(len(frame))]
    frame["lng"] = -1.32
    return frame


def levels() -> pd.DataFrame:
    rows = [  # place_id, changed_on, from, to, reason
        (1, dt.date(2025, 6, 2), 3, 4, "the day before since: out"),
        (1, SINCE, 3, 4, "on the since day: in"),
        (2, dt.date(2025, 6, 15), None, 4, "first recorded"),
        (3, MEETING, 4, 2, "on the meeting day: in"),
        (4, dt.date(2025, 7, 2), 2, 3, "the day after the meeting: out"),
    ]
    return pd.DataFrame(rows, columns=["place_id", "changed_on", "from_level", "to_level",
                                       "reason"], dtype=object)


def activities() -> pd.DataFrame:
    rows = [  # source_id, type, started_at, place_id, lat, lng, ward, agency, outcome
        ("X0", "street_patrol", dt.datetime(2025, 6, 2, 23, 59), None, 54.57, -1.32, "W1",
         "Police", "before since"),
        ("X1", "licensing_visit", dt.datetime(2025, 6, 3, 0, 0), 1, 54.571, -1.32, "W1",
         "Council", "advice given"),
        ("X2", "premises_closure", dt.datetime(2025, 6, 20, 10), 2, 54.572, -1.32, "W1",
         "Police", "closure order"),
        ("X3", "street_patrol", dt.datetime(2025, 6, 25, 21), None, None, None, None,
         "Police", None),
        ("X4", "housing_provider_visit", dt.datetime(2025, 7, 1, 23), None, 54.58, -1.31, "W2",
         "Thirteen Group", "warning"),
        ("X5", "street_patrol", dt.datetime(2025, 7, 2, 0, 0), None, 54.58, -1.31, "W2",
         "Police", "after the meeting"),
    ]
    return pd.DataFrame(rows, columns=["source_id", "activity_type", "started_at", "place_id",
                                       "lat", "lng", "ward_code", "agency", "outcome"],
                        dtype=object)


EARLY_X2 = ("Day 8 of 90 of the after window (it ends on 2025-09-17), as far as the records "
            "reach (2025-06-27): no verdict until they cover the whole window.")


def outcomes() -> pd.DataFrame:
    """Disruption-table rows read as of the meeting (`layers.action.outcomes.table.judged`)."""
    rows = [  # level, id, after_ends, code, verdict
        ("activity", "X1", dt.date(2025, 6, 30), "worked", "Reports fell by 50%."),
        ("activity", "X2", dt.date(2025, 9, 18), TOO_EARLY, EARLY_X2),
        ("activity", "X4", dt.date(2025, 9, 29), TOO_EARLY, "Day 1 of 90."),
        ("campaign", "X3", dt.date(2025, 6, 1), "worked", "a campaign, not an activity"),
    ]
    return pd.DataFrame(rows, columns=["level", "id", "after_ends", "reports_code",
                                       "reports_verdict"])


def place_reports() -> pd.DataFrame:
    return pd.DataFrame({"place_id": [1, 2, 3, 4, 6], "reports": [5, 2, 2, 10, 50]})


def make_inputs(**changes: object) -> b.BriefingInputs:
    """Inputs of a whole pack from the frames above (shared with the page's tests)."""
    run = {"id": 7, "as_of": dt.date(2025, 6, 30), "known_by": dt.datetime(2025, 6, 30, 23, 59),
           "fingerprint": "0123456789abcdef", "step": "week", "n_steps": 4, "k": 1,
           "params": {"alpha": 0.05, "trend_alpha": 0.05, "correction": "fdr_bh", "k": 1,
                      "weights": {"half_life_days": 90.0, "report_levels": {"1": 0.0}}}}
    fields: dict = {
        "meeting": MEETING, "since": dt.date(2025, 6, 10), "since_default": False, "run": run,
        "step_starts": STARTS, "states": states(), "cells": cells(), "wards": WARDS,
        "places": places(), "levels": levels(), "activities": activities(),
        "outcomes": outcomes(), "place_reports": place_reports(), "outcome_days": 90,
        "outcome_alpha": 0.05,
    }
    return b.BriefingInputs(**{**fields, **changes})


# --- dates -------------------------------------------------------------------------------

def test_since_defaults_to_28_days_before_the_meeting() -> None:
    assert b.default_since(MEETING) == MEETING - dt.timedelta(days=28) == SINCE
    assert b.default_since(MEETING, MEETING) == MEETING
    with pytest.raises(ValueError, match="since: 2025-07-02 is after the meeting date 2025-07-01"):
        b.default_since(MEETING, dt.date(2025, 7, 2))
    with pytest.raises(ValueError, match="meeting: 0001-01-01 is out of range"):
        b.default_since(dt.date(1, 1, 1))
    with pytest.raises(ValueError, match="since: 1800-01-01 is out of range"):
        b.default_since(MEETING, dt.date(1800, 1, 1))


@pytest.mark.parametrize(("day", "index"), [
    (dt.date(2025, 1, 1), 0), (dt.date(2025, 6, 2), 0), (dt.date(2025, 6, 8), 0),
    (dt.date(2025, 6, 9), 1), (dt.date(2025, 6, 22), 2), (dt.date(2025, 6, 23), 3),
    (dt.date(2025, 12, 1), 3),
])
def test_step_index_is_the_step_holding_the_day(day: dt.date, index: int) -> None:
    assert b.step_index(STARTS, day) == index


# --- a. hot spot changes -----------------------------------------------------------------

def test_hot_spot_changes_have_known_classes() -> None:
    out = b.hotspot_changes(states(), cells(), WARDS, starts=STARTS,
                            since=dt.date(2025, 6, 10), trend_alpha=0.05)
    assert list(out.columns) == list(b.HOTSPOT_COLUMNS)
    got = dict(zip(out["h3_cell"], out["change"], strict=True))
    assert got == {A: b.NEW_HOT_SPOT, B: b.INTENSIFYING, C: b.INTENSIFYING, E: b.FADING,
                   F: b.FADING}
    # ordered by change (new, intensifying, fading), then highest score first
    assert out["h3_cell"].tolist() == [A, B, C, F, E]
    assert out["ward_name"].tolist() == ["North Box", "North Box", "South Box", "", "North Box"]
    assert out[["was", "now"]].values.tolist() == [[".", "h"], ["h", "h"], ["h", "h"],
                                                   ["h", "c"], ["h", "."]]


def test_the_trend_threshold_follows_the_runs_trend_alpha() -> None:
    # trend_z 1.0 is significant at alpha 0.4 (critical z 0.84), not at 0.05 (1.96)
    out = b.hotspot_changes(states(), cells(), WARDS, starts=STARTS,
                            since=dt.date(2025, 6, 10), trend_alpha=0.4)
    assert set(out.loc[out["change"] == b.INTENSIFYING, "h3_cell"]) == {B, C, D}


def test_a_since_date_before_the_run_compares_with_its_first_step() -> None:
    out = b.hotspot_changes(states(), cells(), WARDS, starts=STARTS,
                            since=dt.date(2024, 1, 1), trend_alpha=0.05)
    # step 0: A ".", E "h", F ".", G "c"; last step as before
    assert dict(zip(out["h3_cell"], out["change"], strict=True)) == {
        A: b.NEW_HOT_SPOT, B: b.INTENSIFYING, C: b.INTENSIFYING, E: b.FADING}


def test_no_significant_cell_gives_an_empty_section() -> None:
    empty = pd.DataFrame({"h3_cell": pd.Series(dtype=object), "states": pd.Series(dtype=object)})
    out = b.hotspot_changes(empty, cells(), WARDS, starts=STARTS, since=SINCE, trend_alpha=0.05)
    assert out.empty and list(out.columns) == list(b.HOTSPOT_COLUMNS)


# --- b. level changes --------------------------------------------------------------------

def test_level_changes_include_both_window_bounds() -> None:
    out = b.level_changes(levels(), places(), WARDS, since=SINCE, meeting=MEETING)
    assert out["reason"].tolist() == ["on the since day: in", "first recorded",
                                      "on the meeting day: in"]
    assert out["changed_on"].tolist() == [SINCE, dt.date(2025, 6, 15), MEETING]
    assert out["direction"].tolist() == ["up", "first recorded", "down"]
    assert out["from_name"].tolist() == ["Some concern", "", "High concern"]
    assert out["to_name"].tolist() == ["High concern", "High concern", "Low concern"]
    assert out["name"].tolist() == ["Zed Takeaway", "Alpha Park", "Beta Flats"]
    assert out["from_level"].isna().tolist() == [False, True, False]


def test_no_level_change_in_the_window() -> None:
    out = b.level_changes(levels(), places(), WARDS, since=dt.date(2025, 6, 16),
                          meeting=dt.date(2025, 6, 30))
    assert out.empty and list(out.columns) == list(b.LEVEL_COLUMNS)


# --- c. reviews due ----------------------------------------------------------------------

def test_reviews_due_within_14_days_with_overdue_flagged() -> None:
    out = b.reviews_due(places(), WARDS, meeting=MEETING)
    # P4 (16 days after) is beyond the horizon, P5 has no date, P6 is closed
    assert out["source_id"].tolist() == ["P8", "P1", "P7", "P2", "P3"]
    assert out["overdue"].tolist() == [True, True, True, False, False]
    assert out["overdue_days"].tolist() == [547, 30, 11, 0, -14]
    assert out["ward_name"].tolist() == ["North Box", "North Box", "", "North Box",
                                         "North Box"]
    assert out["level_name"].tolist()[:2] == ["Low concern", "High concern"]


def test_the_review_horizon_is_a_parameter() -> None:
    out = b.reviews_due(places(), WARDS, meeting=MEETING, horizon_days=15)
    assert "P4" in out["source_id"].tolist()
    assert b.reviews_due(places(), WARDS, meeting=dt.date(2023, 1, 1)).empty


# --- d. actions --------------------------------------------------------------------------

def test_actions_since_with_measured_or_too_early_outcomes() -> None:
    out = b.actions_since(activities(), outcomes(), places(), WARDS, since=SINCE,
                          meeting=MEETING)
    assert out["id"].tolist() == ["X1", "X2", "X3", "X4"]  # X0 before since, X5 after
    assert out["verdict"].tolist() == ["worked", TOO_EARLY, b.NOT_MEASURED, TOO_EARLY]
    assert out["measured"].tolist() == [
        "Reports fell by 50%.", EARLY_X2, "not measured: the activity has no location",
        "Day 1 of 90."]
    assert out["after_last"].tolist() == [dt.date(2025, 6, 29), dt.date(2025, 9, 17), None,
                                          dt.date(2025, 9, 28)]
    assert out["place"].tolist() == ["Zed Takeaway", "Alpha Park", "", ""]
    assert out["ward_name"].tolist() == ["North Box", "North Box", "", "South Box"]


def test_actions_without_an_outcome_table_are_not_measured() -> None:
    out = b.actions_since(activities(), pd.DataFrame(), places(), WARDS, since=SINCE,
                          meeting=MEETING)
    assert out["verdict"].tolist() == [b.NOT_MEASURED] * 4
    assert out["measured"].tolist()[0] == "not measured"


# --- e. top places -----------------------------------------------------------------------

def test_top_places_per_ward_by_level_then_reports_then_name() -> None:
    out = b.top_places(places(), place_reports(), WARDS)
    assert list(out.columns) == list(b.TOP_COLUMNS)
    # W1: level 4 Zed (5 reports), then Alpha and Beta (2 each, by name); Old Garage is
    # closed, Corner Shop (level 3, 10 reports) fourth; P7 has no ward
    assert out[["ward_code", "rank", "source_id"]].values.tolist() == [
        ["W1", 1, "P1"], ["W1", 2, "P2"], ["W1", 3, "P3"], ["W2", 1, "P5"]]
    assert out["reports"].tolist() == [5, 2, 2, 0]
    assert out["ward_name"].tolist() == ["North Box"] * 3 + ["South Box"]


def test_top_is_a_parameter() -> None:
    out = b.top_places(places(), place_reports(), WARDS, top=5)
    assert out.loc[out["ward_code"] == "W1", "source_id"].tolist() == ["P1", "P2", "P3", "P4",
                                                                       "P8"]


# --- the whole pack ----------------------------------------------------------------------

def test_build_briefing_fills_every_section_and_the_header() -> None:
    pack = b.build_briefing(make_inputs())
    assert all(len(pack.section(name)) for name in b.SECTIONS)
    h = pack.header
    assert (h["meeting"], h["since"], h["run_id"], h["as_of"]) == (
        MEETING, dt.date(2025, 6, 10), 7, dt.date(2025, 6, 30))
    assert h["fingerprint"] == "0123456789abcdef" and h["params"]["trend_alpha"] == 0.05
    assert (h["since_step"], h["last_step"]) == (dt.date(2025, 6, 9), dt.date(2025, 6, 23))
    assert (h["outcome_days"], h["outcome_alpha"]) == (90, 0.05)
    assert (h["review_horizon_days"], h["report_window_days"], h["top_per_ward"]) == (14, 90, 3)
    assert len(pack.level_changes) == 2  # since 2025-06-10: only the 06-15 and 07-01 changes


def test_the_pack_never_carries_notes() -> None:
    inputs = make_inputs(places=places().assign(notes="SECRET"))
    pack = b.build_briefing(inputs)
    for name in b.SECTIONS:
        frame = pack.section(name)
        assert "notes" not in frame.columns
        assert not frame.astype(str).apply(lambda s: s.str.contains("SECRET")).any().any()


def test_unknown_section_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="hotspots, level_changes"):
        b.build_briefing(make_inputs()).section("notes")
