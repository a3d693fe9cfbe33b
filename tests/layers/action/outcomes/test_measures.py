from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from geo import h3index
from layers.action.outcomes.measures import (
    TOO_EARLY,
    VERDICT_NAMES,
    VERDICTS,
    AreaError,
    Counts,
    after_window,
    assess,
    choose_areas,
    count_windows,
    given_areas,
    gross_effect,
    local_difference,
    net_effect,
    outcome_table,
    verdict,
    wdd,
    wdq,
    wdq_reading,
    weighted_counts,
)

WARD, OTHER = "E05000001", "E05000002"
START = date(2024, 3, 10)
DAYS = 28
Z95 = 1.959964


def cell_at(lat: float, lng: float) -> str:
    cells = h3index.latlng_to_cells(np.array([lat]), np.array([lng]), resolution=9)
    return str(h3index.cells_to_str(cells)[0])


CENTRE = cell_at(54.5680, -1.3187)


def disk(k: int, cell: str = CENTRE) -> set[str]:
    return set(h3index.grid_disk(cell, k))


def ring(k: int, cell: str = CENTRE) -> set[str]:
    return disk(k, cell) - disk(k - 1, cell)


def candidates(k: int = 8) -> pd.DataFrame:
    """Cells within k steps of the centre in WARD, ring k + 1 in OTHER."""
    inner, outer = sorted(disk(k)), sorted(ring(k + 1))
    return pd.DataFrame({"h3_cell": inner + outer,
                         "ward_code": [WARD] * len(inner) + [OTHER] * len(outer)})


def events(before: dict[str, int], after: dict[str, int], *, weight: float = 1.0,
           start: date = START, days: int = DAYS) -> pd.DataFrame:
    """``before[cell]`` records spread over the before window, ``after[cell]`` over the after."""
    frames = []
    for counts, first in ((before, start - timedelta(days=days)), (after, start)):
        cells = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
        offset = np.arange(len(cells)) % days
        day = np.datetime64(first, "D") + offset.astype("timedelta64[D]")
        frames.append(pd.DataFrame({"h3_cell": cells, "day": day, "weight": weight}))
    return pd.concat(frames, ignore_index=True)


def scenario(target_after: int, buffer_after: int, seed: int | None = None,
             target_before: int = 8) -> pd.DataFrame:
    """Every candidate cell 5 records a window, the target ``target_before`` before; the
    counts are Poisson means if seeded."""
    cells = candidates()["h3_cell"].tolist()
    before = dict.fromkeys(cells, 5)
    after = dict.fromkeys(cells, 5)
    for cell in disk(1):
        before[cell], after[cell] = target_before, target_after
    for cell in ring(2):
        after[cell] = buffer_after
    if seed is not None:
        rng = np.random.default_rng(seed)
        before = {c: int(rng.poisson(n)) for c, n in before.items()}
        after = {c: int(rng.poisson(n)) for c, n in after.items()}
    return events(before, after)


def run(ev: pd.DataFrame) -> tuple:
    before = ev[ev["day"] < np.datetime64(START)].groupby("h3_cell").size()
    areas = choose_areas([CENTRE], candidates(), before=before)
    counts = count_windows(ev, areas, start=START, days=DAYS)
    return areas, counts, assess(counts)


# --- WDQ and WDD by hand -------------------------------------------------------------------

# Rb=100, Ra=60, Bb=50, Ba=55, Cb=200, Ca=190, CBb=80, CBa=78
# WDQ numerator   Ba/Ca - Bb/Cb = 55/190 - 50/200 = (11000 - 9500)/38000 = 1500/38000
# WDQ denominator Ra/Ca - Rb/Cb = 60/190 - 100/200 = (12000 - 19000)/38000 = -7000/38000
# WDQ = -1500/7000 = -3/14 = -0.2142857: denominator negative (success), 0 > WDQ > -1: some
# displacement but a net gain.
# WDD = (60 - 100) - (190 - 200) + (55 - 50) - (78 - 80) = -40 + 10 + 5 + 2 = -23
# var = 100 + 60 + 50 + 55 + 200 + 190 + 80 + 78 = 813, se = sqrt(813) = 28.513155
# z = -23 / 28.513155 = -0.806645; p = 2 (1 - Phi(0.806645)) = 0.419871
# 95% CI = -23 -/+ 1.959964 * 28.513155 = (-78.884757, 32.884757)
# local = (60 - 100) - (190 - 200) = -30, var = 100 + 60 + 200 + 190 = 550, se = 23.452079
# gross = (60 - 100)/100 = -0.4; net = (60/100)/(190/200) - 1 = 0.6/0.95 - 1 = -0.368421
HAND = Counts(Rb=100, Ra=60, Bb=50, Ba=55, Cb=200, Ca=190, CBb=80, CBa=78)


def test_wdq_by_hand() -> None:
    assert wdq(HAND) == pytest.approx(-3 / 14)
    assert wdq_reading(HAND) == "net_gain"


def test_wdd_by_hand() -> None:
    r = wdd(HAND)
    assert r.estimate == pytest.approx(-23)
    assert r.se == pytest.approx(math.sqrt(813))
    assert r.z == pytest.approx(-0.806645, abs=1e-6)
    assert r.p == pytest.approx(0.419871, abs=1e-6)
    assert (r.ci_low, r.ci_high) == pytest.approx((-23 - Z95 * math.sqrt(813),
                                                   -23 + Z95 * math.sqrt(813)), abs=1e-4)
    assert not r.fell and not r.rose


def test_local_and_effects_by_hand() -> None:
    loc = local_difference(HAND)
    assert loc.estimate == pytest.approx(-30)
    assert loc.se == pytest.approx(23.452079, abs=1e-6)
    assert gross_effect(HAND) == pytest.approx(-0.4)
    assert net_effect(HAND) == pytest.approx(0.6 / 0.95 - 1)


# Wheeler and Ratcliffe (2018), worked example (also ptools' test-wdd.R): control pre/post
# 308/318, treated 207/110, displacement control 150/140, displacement treated 178/157.
# WDD = (110 - 207) - (318 - 308) + (157 - 178) - (140 - 150) = -97 - 10 - 21 + 10 = -118
# var = 207 + 110 + 178 + 157 + 308 + 318 + 150 + 140 = 1568, se = 39.597980
# z = -118 / 39.597980 = -2.98; 95% CI = -118 -/+ 1.959964 * 39.597980 = (-195.61, -40.39)
def test_wdd_wheeler_ratcliffe_example() -> None:
    c = Counts(Rb=207, Ra=110, Bb=178, Ba=157, Cb=308, Ca=318, CBb=150, CBa=140)
    r = wdd(c, alpha=0.05)
    assert r.estimate == -118
    assert r.se == pytest.approx(math.sqrt(1568))
    assert r.z == pytest.approx(-2.979950, abs=1e-6)
    assert r.ci_low == pytest.approx(-118 - Z95 * math.sqrt(1568), abs=1e-4)
    assert r.ci_high == pytest.approx(-118 + Z95 * math.sqrt(1568), abs=1e-4)
    assert (round(r.ci_low), round(r.ci_high)) == (-196, -40)
    assert r.p == pytest.approx(0.002883, abs=1e-6)
    assert r.fell


def test_wdd_alpha_widens_interval() -> None:
    narrow, wide = wdd(HAND, alpha=0.1), wdd(HAND, alpha=0.01)
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5])
def test_bad_alpha_raises(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        wdd(HAND, alpha=alpha)


@pytest.mark.parametrize("value", [-1, math.nan, math.inf])
def test_bad_count_raises(value: float) -> None:
    with pytest.raises(ValueError, match="count Ba"):
        Counts(Rb=1, Ra=1, Bb=1, Ba=value, Cb=1, Ca=1, CBb=1, CBa=1)


# --- undefined cases -----------------------------------------------------------------------

def test_wdq_nan_when_control_is_zero() -> None:
    assert math.isnan(wdq(Counts(Rb=10, Ra=5, Bb=4, Ba=4, Cb=0, Ca=3, CBb=1, CBa=1)))
    assert math.isnan(wdq(Counts(Rb=10, Ra=5, Bb=4, Ba=4, Cb=3, Ca=0, CBb=1, CBa=1)))
    assert wdq_reading(Counts(Rb=10, Ra=5, Bb=4, Ba=4, Cb=0, Ca=0, CBb=1, CBa=1)) == "undefined"


def test_wdq_nan_when_denominator_is_zero() -> None:
    # Ra/Ca - Rb/Cb = 10/20 - 5/10 = 0
    c = Counts(Rb=5, Ra=10, Bb=4, Ba=9, Cb=10, Ca=20, CBb=1, CBa=1)
    assert math.isnan(wdq(c))


def test_wdq_reading_no_success() -> None:
    # Ra/Ca - Rb/Cb = 20/10 - 10/10 = 1 > 0: the target got worse relative to the control
    assert wdq_reading(Counts(Rb=10, Ra=20, Bb=4, Ba=4, Cb=10, Ca=10, CBb=1, CBa=1)) == \
        "no_success"


def test_effects_nan_when_undefined() -> None:
    zero = Counts(Rb=0, Ra=0, Bb=0, Ba=0, Cb=0, Ca=0, CBb=0, CBa=0)
    assert math.isnan(gross_effect(zero))
    assert math.isnan(net_effect(zero))
    assert math.isnan(net_effect(Counts(Rb=5, Ra=3, Bb=0, Ba=0, Cb=4, Ca=0, CBb=0, CBa=0)))
    r = wdd(zero)
    assert r.estimate == 0 and r.se == 0
    assert math.isnan(r.z) and math.isnan(r.p)
    assert assess(zero).code == "too_few"


# --- scenarios on real cells ---------------------------------------------------------------

def test_scenario_disruption_works() -> None:
    # Target 7 cells x 8 = 56 before, 7 x 2 = 14 after; buffer and control steady at 5/cell.
    _, counts, a = run(scenario(target_after=2, buffer_after=5))
    assert (counts.Rb, counts.Ra) == (56, 14)
    assert (counts.Bb, counts.Ba) == (60, 60)
    assert a.code == "worked"
    assert a.local.fell
    assert "fell by 75%" in a.text
    assert "no sign of displacement" in a.text
    assert "larger than chance" in a.text and "95%" in a.text


def test_scenario_displacement() -> None:
    # Target 56 -> 14 (-42), buffer 12 cells 60 -> 120 (+60): WDD = -42 + 60 = +18 >= 0,
    # WDQ = (120/35 - 60/35) / (14/35 - 56/35) = 60 / -42 = -1.43 < -1.
    _, counts, a = run(scenario(target_after=2, buffer_after=10))
    assert (counts.Ba, counts.Bb) == (120, 60)
    assert a.code == "displaced"
    assert a.wdq == pytest.approx(-60 / 42)
    assert a.wdq_reading == "displacement"
    assert a.displacement.rose
    assert "fell by 75%" in a.text and "rose by 100%" in a.text
    assert "surrounding streets" in a.text and "moved" in a.text


def test_scenario_no_effect_exact() -> None:
    # Target 8/cell before and after, everything else 5/cell: local = 0, WDD = 0.
    _, counts, a = run(scenario(target_after=8, buffer_after=5))
    assert a.code == "no_effect"
    assert a.local.estimate == 0 and a.wdd.estimate == 0
    assert "hardly changed (56 before, 56 after)" in a.text


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scenario_no_effect(seed: int) -> None:
    # Every cell, target included, Poisson with mean 5 in both windows. (A target with a
    # higher true rate than every candidate gets controls picked for a lucky before window,
    # which then fall back: regression to the mean, see the module docstring.)
    _, counts, a = run(scenario(target_after=5, buffer_after=5, seed=seed, target_before=5))
    assert a.code == "no_effect"
    assert not a.local.fell and not a.local.rose
    assert "within what chance would explain at 95%" in a.text
    assert f"{abs(round(100 * gross_effect(counts)))}%" in a.text or "hardly" in a.text


def test_scenario_worse() -> None:
    _, _, a = run(scenario(target_after=20, buffer_after=5))
    assert a.code == "worse"
    assert "rose by 150%" in a.text


def test_too_few_reports() -> None:
    c = Counts(Rb=3, Ra=0, Bb=2, Ba=2, Cb=4, Ca=4, CBb=2, CBa=2)
    a = assess(c)
    assert a.code == "too_few"
    assert a.text.startswith("Too few reports to tell: 3 at the target")
    assert verdict(c, min_before=2) != a.text


def test_assessment_row_and_codes() -> None:
    row = assess(HAND).to_row()
    assert row["Rb"] == 100 and row["wdd"] == pytest.approx(-23)
    assert row["wdq"] == pytest.approx(-3 / 14)
    assert row["code"] in VERDICTS and isinstance(row["verdict"], str)
    assert {"wdd_se", "wdd_z", "wdd_p", "wdd_ci_low", "wdd_ci_high", "local_p",
            "displacement_p", "gross_effect", "net_effect"} <= set(row)


# --- areas ---------------------------------------------------------------------------------

def test_choose_areas_rule() -> None:
    cand = candidates()
    similar = sorted(ring(6))[:7]  # 8 a window, like the target cells
    buffer_like = sorted(ring(7))[:12]  # 3 a window, like the buffer cells
    before = pd.Series(1.0, index=cand["h3_cell"])
    before[sorted(disk(1))] = 8.0
    before[sorted(ring(2))] = 3.0
    before[similar] = 8.0
    before[buffer_like] = 3.0
    before[sorted(ring(9))] = 8.0  # as similar, but in the other ward
    areas = choose_areas([CENTRE], cand, before=before)
    assert set(areas.target) == disk(1)
    assert set(areas.buffer) == ring(2)
    assert set(areas.control) == set(similar)
    assert set(areas.buffer_control) == set(buffer_like)
    wards = cand.set_index("h3_cell")["ward_code"]
    assert (wards[list(areas.control)] == WARD).all()
    assert not set(areas.control) & disk(3)
    groups = [set(areas.target), set(areas.buffer), set(areas.control),
              set(areas.buffer_control)]
    assert sum(map(len, groups)) == len(set().union(*groups))


def test_choose_areas_ties_by_cell_id_and_n_control() -> None:
    areas = choose_areas([CENTRE], candidates(), n_control=3)
    pool = sorted(set(candidates().query("ward_code == @WARD")["h3_cell"]) - disk(3))
    assert list(areas.control) == pool[:3]


def test_choose_areas_needs_a_ward() -> None:
    far = cell_at(51.5, -0.12)
    with pytest.raises(AreaError, match="candidate cells"):
        choose_areas([far], candidates())


def test_given_areas_overlap_names_the_cell() -> None:
    cell = sorted(ring(1))[0]
    with pytest.raises(AreaError, match=f"cell {cell} is in both target and buffer"):
        given_areas(sorted(disk(1)), [cell, *sorted(ring(2))], sorted(ring(6)))


def test_given_areas_validates_and_normalises() -> None:
    areas = given_areas([CENTRE.upper()], sorted(ring(1)), sorted(ring(5)))
    assert areas.target == (CENTRE,)
    with pytest.raises(ValueError, match="not an H3 cell"):
        given_areas(["nonsense"], [], [])
    with pytest.raises(AreaError, match="no cells"):
        given_areas([], [], sorted(ring(5)))


# --- windows -------------------------------------------------------------------------------

def test_count_windows_boundaries() -> None:
    areas = given_areas([CENTRE], [], [])
    days = [date(2024, 3, 2),  # start - days - 1: outside
            date(2024, 3, 3),  # start - days: before
            date(2024, 3, 9),  # start - 1: before
            date(2024, 3, 10),  # start: after
            date(2024, 3, 16),  # start + days - 1: after
            date(2024, 3, 17)]  # start + days: outside
    ev = pd.DataFrame({"h3_cell": CENTRE, "day": days})
    c = count_windows(ev, areas, start=date(2024, 3, 10), days=7)
    assert (c.Rb, c.Ra) == (2, 2)


def test_count_windows_datetimes_and_areas() -> None:
    b, ctl, cb, other = sorted(ring(2))[0], sorted(ring(6))[0], sorted(ring(7))[0], \
        sorted(ring(8))[0]
    areas = given_areas([CENTRE], [b], [ctl], [cb])
    ev = pd.DataFrame({
        "h3_cell": [CENTRE, CENTRE, b, ctl, ctl, cb, other],
        "day": pd.to_datetime(["2024-03-09 23:30", "2024-03-10 00:10", "2024-03-12 00:00",
                               "2024-03-01 00:00", "2024-03-11 00:00", "2024-03-05 00:00",
                               "2024-03-05 00:00"])})
    c = count_windows(ev, areas, start=datetime(2024, 3, 10, 15, 0), days=10)
    assert c.to_array().tolist() == [1, 1, 0, 1, 1, 1, 1, 0]


def test_count_windows_bad_days() -> None:
    ev = pd.DataFrame({"h3_cell": [CENTRE], "day": [START]})
    with pytest.raises(ValueError, match="days"):
        count_windows(ev, given_areas([CENTRE], [], []), start=START, days=0)


# --- harm-weighted ---------------------------------------------------------------------------

def test_weights_of_one_equal_counts() -> None:
    ev = scenario(target_after=2, buffer_after=7, seed=1)
    areas, counts, a = run(ev)
    sums, squares = weighted_counts(ev, areas, start=START, days=DAYS)
    assert sums == counts and squares == counts
    b = assess(sums, variance=squares)
    assert b.to_row() == a.to_row()


def test_weighted_variance_is_sum_of_squares() -> None:
    ev = scenario(target_after=2, buffer_after=5).assign(weight=2.0)
    areas, counts, _ = run(ev)
    sums, squares = weighted_counts(ev, areas, start=START, days=DAYS)
    np.testing.assert_allclose(sums.to_array(), 2 * counts.to_array())
    np.testing.assert_allclose(squares.to_array(), 4 * counts.to_array())
    assert wdd(sums, variance=squares).se == pytest.approx(2 * wdd(counts).se)


def test_negative_weight_raises() -> None:
    ev = pd.DataFrame({"h3_cell": [CENTRE, CENTRE], "day": [START, START], "weight": [1, -2]})
    with pytest.raises(ValueError, match="row 1: weight -2"):
        weighted_counts(ev, given_areas([CENTRE], [], []), start=START, days=5)


# --- outcome table -------------------------------------------------------------------------

def test_outcome_table_groups_campaigns_by_jag_ref() -> None:
    east = sorted(ring(1))[0]
    acts = pd.DataFrame({
        "id": [1, 2, 3],
        "activity_type": ["street_patrol", "licensing_visit", "street_patrol"],
        "h3_cell": [CENTRE, east, CENTRE],
        "started_at": [datetime(2024, 3, 12, 9), datetime(2024, 3, 10, 14),
                       datetime(2024, 3, 10, 8)],
        "jag_ref": ["JAG-1", "JAG-1", None]})
    table = outcome_table(acts, scenario(target_after=2, buffer_after=5), candidates(),
                          days=DAYS)
    assert len(table) == 4
    assert table["activity_type"].is_monotonic_increasing
    campaign = table[table["level"] == "campaign"].iloc[0]
    assert campaign["id"] == "JAG-1"
    assert campaign["activity_type"] == "licensing_visit+street_patrol"
    assert campaign["start"] == date(2024, 3, 10)
    assert campaign["target_cells"] == len(disk(1) | disk(1, east))
    third = table[table["id"] == "3"].iloc[0]
    assert third["code"] == "worked" and third["Rb"] == 56
    assert set(table["code"]) <= set(VERDICTS)


def test_outcome_table_weighted_and_missing_columns() -> None:
    acts = pd.DataFrame({"id": [7], "activity_type": ["premises_closure"],
                         "h3_cell": [CENTRE], "started_at": [pd.Timestamp(START)],
                         "jag_ref": [None]})
    ev = scenario(target_after=2, buffer_after=5)
    counted = outcome_table(acts, ev, candidates(), days=DAYS)
    weighted = outcome_table(acts, ev, candidates(), days=DAYS, weighted=True)
    assert weighted["wdd"].tolist() == counted["wdd"].tolist()
    assert "harm-weighted reports" in weighted["verdict"].iloc[0].lower()
    with pytest.raises(ValueError, match="jag_ref"):
        outcome_table(acts.drop(columns="jag_ref"), ev, candidates())


# --- the fast table against the readable per-plan computation ------------------------------

def synthetic_jag(seed: int = 20240601) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Activities (one campaign), 600 reports and candidate cells in three wards, seeded."""
    rng = np.random.default_rng(seed)
    centre = cell_at(54.568, -1.319)
    cand = np.array(sorted(disk(10, centre)), dtype=object)
    lat, lng = h3index.cells_to_latlng(h3index.str_to_cells(cand))
    wards = np.where(lat > 54.568, "W-NORTH", np.where(lng < -1.319, "W-SOUTHWEST", "W-SOUTHEAST"))
    cells = pd.DataFrame({"h3_cell": cand, "ward_code": wards})
    heat = rng.gamma(0.6, 1.0, len(cand))  # a few hot cells, many quiet ones
    n = 600
    reports = pd.DataFrame({
        "h3_cell": rng.choice(cand, n, p=heat / heat.sum()),
        "day": pd.Timestamp("2023-10-01") + pd.to_timedelta(rng.integers(0, 366, n), unit="D"),
        "weight": rng.choice([0.0, 1.0, 2.0, 4.0], n)})
    near = sorted(disk(5, centre))
    starts = pd.to_datetime(["2023-11-20 09:00", "2024-02-03 14:30", "2024-03-15 20:00",
                             "2024-03-20 10:15", "2024-05-01 08:00", "2024-06-12 22:45",
                             "2024-07-30 11:00"])
    activities = pd.DataFrame({
        "id": [f"A{i}" for i in range(len(starts))],
        "activity_type": ["street_patrol", "licensing_visit", "street_patrol", "premises_closure",
                          "street_patrol", "licensing_visit", "street_patrol"],
        "h3_cell": [near[i] for i in rng.choice(len(near), len(starts), replace=False)],
        "started_at": starts,
        "jag_ref": [None, "JAG-7", "JAG-7", "JAG-8", None, "JAG-7", None]})
    return activities, reports, cells


def reference_table(activities: pd.DataFrame, events: pd.DataFrame, cells: pd.DataFrame, *,
                    days: int, weighted: bool) -> pd.DataFrame:
    """`outcome_table` spelled out: choose_areas, count_windows/weighted_counts and assess."""
    plans = [("activity", str(a.id), a.activity_type, a.jag_ref, [a.h3_cell],
              a.started_at.date()) for a in activities.itertuples()]
    for ref, group in activities.dropna(subset=["jag_ref"]).groupby("jag_ref"):
        if len(group) > 1:
            plans.append(("campaign", ref, "+".join(sorted(set(group["activity_type"]))), ref,
                          sorted(set(group["h3_cell"])), group["started_at"].min().date()))
    day = events["day"]
    values = events["weight"] if weighted else pd.Series(1.0, index=events.index)
    rows = []
    for level, ident, kind, jag, target, start in plans:
        first = pd.Timestamp(start)
        prior = (day >= first - timedelta(days=2 * days)) & (day < first - timedelta(days=days))
        matched_on = "prior window"
        if not prior.any():
            prior, matched_on = (day >= first - timedelta(days=days)) & (day < first), "before window"
        before = values[prior].groupby(events.loc[prior, "h3_cell"]).sum()
        areas = choose_areas(target, cells, before=before)
        if weighted:
            counts, variance = weighted_counts(events, areas, start=start, days=days)
        else:
            counts, variance = count_windows(events, areas, start=start, days=days), None
        noun = "harm-weighted reports" if weighted else "reports"
        rows.append({"level": level, "id": ident, "activity_type": kind, "jag_ref": jag,
                     "start": start, "after_ends": start + timedelta(days=days),
                     "target_cells": len(areas.target), "control_cells": len(areas.control),
                     "matched_on": matched_on,
                     **assess(counts, variance=variance, noun=noun).to_row()})
    return pd.DataFrame(rows).sort_values(["activity_type", "level", "id"], kind="stable",
                                          ignore_index=True)


def tied_levels(cells: pd.DataFrame, day: str = "2024-03-01") -> pd.DataFrame:
    """Weights 0.1, 0.2 and 0.7 in every candidate cell on one day, in shuffled orders.

    Every cell's level is 1 but the float sum is 1.0 or 0.9999999999999999 by the order of
    addition, so the controls depend on summing per cell exactly as the reference does.
    """
    rng = np.random.default_rng(9)
    cand = cells["h3_cell"].to_numpy()
    weight = np.concatenate([rng.permutation([0.1, 0.2, 0.7]) for _ in cand])
    ties = pd.DataFrame({"h3_cell": np.repeat(cand, 3), "day": pd.Timestamp(day),
                         "weight": weight})
    return ties.sample(frac=1, random_state=1)


@pytest.mark.parametrize(("weighted", "weights", "ties"), [
    (False, None, False), (True, None, False),
    (True, [0.2, 0.05, 1.0, 0.7], False),  # crime-harm-like weights: float sums are inexact
    (True, None, True),
])
def test_outcome_table_equals_the_per_plan_reference(weighted: bool, weights: list | None,
                                                     ties: bool) -> None:
    acts, reports, cells = synthetic_jag()
    if weights is not None:
        reports["weight"] = np.random.default_rng(3).choice(weights, len(reports))
    if ties:
        reports = pd.concat([reports, tied_levels(cells)], ignore_index=True)
    table = outcome_table(acts, reports, cells, days=60, weighted=weighted)
    expected = reference_table(acts, reports, cells, days=60, weighted=weighted)
    assert (table["level"] == "campaign").sum() == 1
    assert set(table["matched_on"]) == {"prior window", "before window"}
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12, atol=1e-12)


def test_outcome_table_raises_as_the_reference() -> None:
    acts, reports, cells = synthetic_jag()
    far = acts.assign(h3_cell=[*acts["h3_cell"][:3], cell_at(51.5, -0.12), *acts["h3_cell"][4:]])
    with pytest.raises(AreaError, match="is among the candidate cells"):
        outcome_table(far, reports, cells)
    reports.loc[5, "weight"] = -1.0
    with pytest.raises(ValueError, match="row 5: weight -1.0"):
        outcome_table(acts, reports, cells, weighted=True)
    with pytest.raises(ValueError, match="days must be a positive whole number"):
        outcome_table(acts, reports, cells, days=0)


def test_a_small_ward_takes_its_control_from_the_whole_study_area() -> None:
    """Regression: an activity in a ward with no cell 4+ steps away (Hartlepool's Victoria,
    a town centre) made the whole outcome table fail."""
    small = candidates().assign(ward_code=lambda f: np.where(
        f["h3_cell"].isin(list(disk(3))), "SMALL", f["ward_code"]))
    areas = choose_areas([CENTRE], small)
    assert not set(areas.control) & disk(3) and len(areas.control) == len(areas.target)
    acts = pd.DataFrame({"id": ["A1"], "activity_type": ["premises_closure"],
                         "h3_cell": [CENTRE], "started_at": [pd.Timestamp(START)],
                         "jag_ref": [None]})
    reports = events({CENTRE: 12, sorted(ring(5))[0]: 6}, {CENTRE: 3})
    table = outcome_table(acts, reports, small, days=DAYS)
    assert table["control_cells"].tolist() == [len(areas.control)]
    expected = reference_table(acts, reports, small, days=DAYS, weighted=False)
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12, atol=1e-12)


# --- the after window: no verdict before it is over ------------------------------------

@pytest.mark.parametrize(("as_of", "data_end", "seen", "complete"), [
    (date(2024, 4, 6), date(2024, 5, 1), 28, True),  # as of the window's last day
    (date(2024, 4, 5), date(2024, 5, 1), 27, False),  # a day short
    (date(2024, 6, 1), date(2024, 4, 5), 27, False),  # over, but the records stop a day short
    (date(2024, 6, 1), date(2024, 4, 6), 28, True),
    (date(2024, 3, 10), date(2024, 5, 1), 1, False),  # the start day counts as after
    (date(2024, 3, 9), date(2024, 5, 1), 0, False),  # not begun
    (date(2024, 6, 1), None, 0, False),  # no records at all
])
def test_after_window_is_complete_only_when_over_and_covered(
        as_of: date, data_end: date | None, seen: int, complete: bool) -> None:
    w = after_window(START, days=DAYS, as_of=as_of, data_end=data_end)
    assert (w.seen, w.complete, w.last_day) == (seen, complete, date(2024, 4, 6))
    assert w.progress == f"day {seen} of 28"
    if not complete:
        assert "no verdict until" in w.text
        assert not any(word in w.text for word in ("chance", "interval", "fell", "rose"))


def test_after_window_words() -> None:
    running = after_window(START, days=DAYS, as_of=date(2024, 3, 21), data_end=date(2024, 5, 1))
    assert running.text == ("Day 12 of 28 of the after window (it ends on 2024-04-06): no "
                            "verdict until it is over.")
    stale = after_window(START, days=DAYS, as_of=date(2024, 6, 1), data_end=date(2024, 3, 21))
    assert stale.text == ("Day 12 of 28 of the after window (it ends on 2024-04-06), as far "
                          "as the records reach (2024-03-21): no verdict until they cover the "
                          "whole window.")
    assert after_window(START, days=DAYS, as_of=date(2024, 3, 1), data_end=None).text == (
        "The after window starts on 2024-03-10: no verdict until it is over.")
    assert set(VERDICT_NAMES) == {*VERDICTS, TOO_EARLY}
    with pytest.raises(ValueError, match="days must be a positive whole number"):
        after_window(START, days=0, as_of=START, data_end=START)
