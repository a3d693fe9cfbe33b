from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import h3index
from geo.crs import latlng_to_bng
from layers.action.patrol.cells import (
    MAX_TOP,
    NATO,
    PLAN_COLUMNS,
    dwell_minutes,
    nearest_neighbour_tour,
    patrol_cells,
    radio_label,
    tour_length_m,
    unique_labels,
)

LABEL = re.compile(rf"^({'|'.join(NATO)}) [1-9]$")
WARD, OTHER = "E05000001", "E05000002"


def cell_at(lat: float, lng: float) -> str:
    cells = h3index.latlng_to_cells(np.array([lat]), np.array([lng]), resolution=9)
    return str(h3index.cells_to_str(cells)[0])


def disk(k: int = 3) -> list[str]:
    return sorted(h3index.grid_disk(cell_at(54.56, -1.34), k))


def frame(ids: list[str], scores: list[float] | np.ndarray, wards: list[str] | str = WARD,
          category: str = "no pattern") -> pd.DataFrame:
    return pd.DataFrame({"h3_cell": ids, "score": np.asarray(scores, float),
                         "category": category, "ward_code": wards})


def random_cells(seed: int = 0, k: int = 3) -> pd.DataFrame:
    """Cells of two wards with random scores, some of them 0."""
    ids = disk(k)
    rng = np.random.default_rng(seed)
    scores = rng.gamma(1.0, 3.0, len(ids)).round(3) * (rng.random(len(ids)) > 0.2)
    wards = rng.choice([WARD, OTHER], len(ids)).tolist()
    return frame(ids, scores, wards)


def bng_distance(a: pd.Series, b: pd.Series) -> float:
    e, n = latlng_to_bng(np.array([a["lat"], b["lat"]]), np.array([a["lng"], b["lng"]]))
    return float(np.hypot(e[1] - e[0], n[1] - n[0]))


# --- a hand-built case -------------------------------------------------------------------

# Six cells of one ward along a line of latitude at x = 0, 1, 3, 6, 10, 15 hundredths of a
# degree east (about 640 m each), a seventh with the top score in another ward and an eighth
# scoring 0. The highest cell of the ward is at x = 6; the nearest-neighbour tour from it
# goes 3 (3 away, not 10 at 4), 1, 0, then 10 and 15.
XS = [0, 1, 3, 6, 10, 15]
SCORES = [5.0, 1.0, 2.0, 6.0, 4.0, 3.0]


@pytest.fixture
def hand() -> tuple[pd.DataFrame, list[str]]:
    ids = [cell_at(54.56, -1.40 + x / 100) for x in XS]
    other = cell_at(54.56, -1.40 + 3.5 / 100)
    zero = cell_at(54.57, -1.40)
    cells = frame([*ids, other, zero], [*SCORES, 99.0, 0.0], [WARD] * 6 + [OTHER, WARD])
    return cells, ids


def test_hand_built_six_cells(hand: tuple[pd.DataFrame, list[str]]) -> None:
    cells, ids = hand
    plan = patrol_cells(cells, ward_code=WARD, top=8, seed=1)
    assert list(plan.columns) == list(PLAN_COLUMNS)
    assert plan["h3_cell"].tolist() == [ids[i] for i in (3, 2, 1, 0, 4, 5)]
    assert plan["order"].tolist() == [1, 2, 3, 4, 5, 6]
    assert plan["score"].tolist() == [6.0, 2.0, 1.0, 5.0, 4.0, 3.0]
    np.testing.assert_allclose(plan["share_of_ward_score"], plan["score"] / sum(SCORES))
    assert plan["share_of_ward_score"].sum() == pytest.approx(1.0)
    lat, lng = h3index.cells_to_latlng(h3index.str_to_cells(plan["h3_cell"].to_numpy()))
    np.testing.assert_allclose(plan["lat"], lat)
    np.testing.assert_allclose(plan["lng"], lng)
    assert plan["lat"].between(54.5, 54.6).all() and plan["lng"].between(-1.41, -1.2).all()


def test_hand_built_top_two(hand: tuple[pd.DataFrame, list[str]]) -> None:
    cells, ids = hand
    plan = patrol_cells(cells, ward_code=WARD, top=2)
    assert plan["h3_cell"].tolist() == [ids[3], ids[0]]
    assert plan["share_of_ward_score"].sum() == pytest.approx(11.0 / sum(SCORES))
    assert tour_length_m(plan) == pytest.approx(bng_distance(plan.iloc[0], plan.iloc[1]))


# --- properties --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("top", [1, 5, 8, MAX_TOP])
def test_top_cells_are_the_highest_of_the_ward(seed: int, top: int) -> None:
    cells = random_cells(seed)
    plan = patrol_cells(cells, ward_code=WARD, top=top)
    ward = cells[(cells["ward_code"] == WARD) & (cells["score"] > 0)]
    expected = ward.sort_values(["score", "h3_cell"], ascending=[False, True]).head(top)
    assert set(plan["h3_cell"]) == set(expected["h3_cell"])
    assert len(plan) == min(top, len(ward))
    assert plan["score"].iloc[0] == ward["score"].max()  # the tour starts at the top cell


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_never_a_cell_outside_the_ward(seed: int) -> None:
    cells = random_cells(seed)
    cells.loc[cells["ward_code"] == OTHER, "score"] += 1000.0  # the other ward is far hotter
    plan = patrol_cells(cells, ward_code=WARD, top=MAX_TOP)
    inside = set(cells.loc[cells["ward_code"] == WARD, "h3_cell"])
    assert len(plan) > 0 and set(plan["h3_cell"]) <= inside
    assert patrol_cells(cells, ward_code="E05999999").empty


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_order_is_a_nearest_neighbour_tour(seed: int) -> None:
    plan = patrol_cells(random_cells(seed, k=5), ward_code=WARD, top=MAX_TOP)
    assert len(plan) == MAX_TOP
    rows = [plan.iloc[i] for i in range(len(plan))]
    for i in range(len(rows) - 1):
        here = rows[i]
        step = bng_distance(here, rows[i + 1])
        later = [bng_distance(here, r) for r in rows[i + 1:]]
        assert step == pytest.approx(min(later)), f"leg {i + 1} is not to the nearest cell"


def test_nearest_neighbour_tour_known_points() -> None:
    e = np.array([0.0, 500.0, 100.0, 120.0, 1000.0])
    n = np.array([0.0, 0.0, 0.0, 0.0, 0.0])
    assert nearest_neighbour_tour(e, n).tolist() == [0, 2, 3, 1, 4]
    assert nearest_neighbour_tour(np.array([]), np.array([])).tolist() == []
    # ties go to the earlier point
    assert nearest_neighbour_tour(np.array([0.0, -5.0, 5.0]), np.zeros(3)).tolist() == [0, 1, 2]


def test_dwell_within_ten_to_fifteen_minutes() -> None:
    cells = random_cells(0, k=4)
    for seed in (None, 0, 1, 20250630):
        plan = patrol_cells(cells, ward_code=WARD, top=MAX_TOP, seed=seed)
        assert plan["dwell_minutes"].between(10, 15).all()
        assert plan["dwell_minutes"].dtype.kind == "i"
    values = dwell_minutes(disk(4), seed=7)
    assert set(values.tolist()) == set(range(10, 16))  # all of 10-15 get used


def test_dwell_is_deterministic_and_varies_with_the_seed() -> None:
    ids = disk(2)
    assert dwell_minutes(ids, seed=3).tolist() == dwell_minutes(ids, seed=3).tolist()
    assert dwell_minutes(ids).tolist() == dwell_minutes(ids, seed=None).tolist()
    assert dwell_minutes(ids, seed=3).tolist() != dwell_minutes(ids, seed=4).tolist()
    cells = random_cells(1)
    a = patrol_cells(cells, ward_code=WARD, seed=3)
    b = patrol_cells(cells, ward_code=WARD, seed=4)
    pd.testing.assert_frame_equal(a.drop(columns="dwell_minutes"),
                                  b.drop(columns="dwell_minutes"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_labels_unique_and_deterministic(seed: int) -> None:
    cells = random_cells(seed, k=4)
    plan = patrol_cells(cells, ward_code=WARD, top=MAX_TOP)
    labels = plan["label"].tolist()
    assert all(LABEL.match(label) for label in labels), labels
    assert len(set(labels)) == len(labels)
    assert len({label.split()[0] for label in labels}) == len(labels)  # one word per cell
    shuffled = cells.sample(frac=1.0, random_state=seed)
    assert patrol_cells(shuffled, ward_code=WARD, top=MAX_TOP)["label"].tolist() == labels
    assert plan["label"].iloc[0] == radio_label(plan["h3_cell"].iloc[0])


def test_radio_label_depends_on_the_cell_alone() -> None:
    cell = cell_at(54.5705, -1.3183)
    assert radio_label(cell) == radio_label(cell) == radio_label(cell.upper())
    assert LABEL.match(radio_label(cell))
    labels = {radio_label(c) for c in disk(5)}
    assert len(labels) > 40  # spread over the 234 labels


@pytest.mark.parametrize("bad", ["<script>alert(1)</script>", "{{ 6*7 }}", "", "zz"])
def test_radio_label_rejects_what_is_not_a_cell(bad: str) -> None:
    with pytest.raises(h3index.H3Error, match="not an H3 cell id"):
        radio_label(bad)


def test_colliding_labels_get_the_next_free_word() -> None:
    by_word: dict[str, list[str]] = {}
    for c in disk(5):
        by_word.setdefault(radio_label(c).split()[0], []).append(c)
    a, b = next(ids for ids in by_word.values() if len(ids) >= 2)[:2]
    first, second = unique_labels([a, b])
    assert first == radio_label(a)
    assert second.split()[0] != first.split()[0]
    word = NATO.index(first.split()[0])
    assert second.split()[0] == NATO[(word + 1) % len(NATO)]
    assert unique_labels([a, b]) == [first, second]


def test_zero_and_missing_scores_are_not_targets() -> None:
    ids = disk(1)
    scores = [0.0, np.nan, 3.0, 0.0, 1.0, -2.0, 0.0]
    plan = patrol_cells(frame(ids, scores), ward_code=WARD, top=MAX_TOP)
    assert sorted(plan["score"].tolist()) == [1.0, 3.0]
    assert plan["share_of_ward_score"].sum() == pytest.approx(1.0)
    assert patrol_cells(frame(ids, [0.0] * len(ids)), ward_code=WARD).empty


def test_empty_input_gives_an_empty_plan() -> None:
    plan = patrol_cells(frame([], []), ward_code=WARD)
    assert plan.empty and list(plan.columns) == list(PLAN_COLUMNS)
    assert tour_length_m(plan) == 0.0


@pytest.mark.parametrize("top", [0, -1, MAX_TOP + 1, True, 2.5, "8"])
def test_bad_top(top: object) -> None:
    with pytest.raises(ValueError, match=f"top must be an integer from 1 to {MAX_TOP}"):
        patrol_cells(random_cells(), ward_code=WARD, top=top)  # type: ignore[arg-type]


def test_missing_column_repeated_cell_and_bad_id() -> None:
    with pytest.raises(ValueError, match="missing column.*ward_code"):
        patrol_cells(frame(disk(1), np.ones(7)).drop(columns="ward_code"), ward_code=WARD)
    ids = disk(1)
    with pytest.raises(ValueError, match=f"cell {ids[0]} appears more than once"):
        patrol_cells(frame([ids[0], ids[0].upper()], [1.0, 2.0]), ward_code=WARD)
    with pytest.raises(h3index.H3Error, match="item 1"):
        patrol_cells(frame([ids[0], "<b>x</b>"], [1.0, 2.0]), ward_code=WARD)


@settings(max_examples=40, deadline=None)
@given(scores=st.lists(st.one_of(st.just(0.0), st.floats(0.01, 100.0)), min_size=37,
                       max_size=37),
       wards=st.lists(st.sampled_from([WARD, OTHER]), min_size=37, max_size=37),
       top=st.integers(1, MAX_TOP), seed=st.one_of(st.none(), st.integers(0, 10**6)))
def test_invariants(scores: list[float], wards: list[str], top: int, seed: int | None) -> None:
    cells = frame(disk(3), scores, wards)
    plan = patrol_cells(cells, ward_code=WARD, top=top, seed=seed)
    mine = cells[(cells["ward_code"] == WARD) & (cells["score"] > 0)]
    assert len(plan) == min(top, len(mine))
    assert set(plan["h3_cell"]) <= set(mine["h3_cell"])
    assert plan["label"].is_unique and plan["dwell_minutes"].between(10, 15).all()
    assert plan["order"].tolist() == list(range(1, len(plan) + 1))
    if len(plan):
        assert plan["score"].iloc[0] == mine["score"].max()
        assert plan["share_of_ward_score"].sum() <= 1.0 + 1e-9
