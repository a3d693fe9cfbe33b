"""The readers of stored scoring runs (`layers.hotspots.read`), on SQLite and PostgreSQL.

The store is `tests.layers.records.test_read.fill`'s: two box wards in two authorities
(North Box in Stockton-on-Tees, South Box in Hartlepool), scored as of `AS_OF` (a Monday).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from layers.errors import NotFoundError, ParameterError
from layers.hotspots import read
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import pack, run_scoring
from layers.store import schema
from layers.store.engine import Store
from tests.api.conftest import AS_OF
from tests.layers.records.test_read import (
    HPL,
    NORTH,
    P2_CELL,
    PATROL_CELL,
    R3_CELL,
    SOUTH,
    STK,
    fill,
)

FIRST_STEP = dt.date(2023, 7, 10)  # 104 weeks ending with the week of AS_OF (2025-06-30)
FAR_CELL = "89194ad14d7ffff"  # a valid cell in London: no data near it
HPL_ONLY, STK_ONLY = frozenset({HPL}), frozenset({STK})


@pytest.fixture
def scored(store: Store, tmp_path: Path) -> Store:
    return fill(store, tmp_path, score=True)


@pytest.fixture
def two_runs(scored: Store) -> Store:
    """`scored` with a second, newer run of the same records as of a week later."""
    run_scoring(scored, ScoreParams(as_of=AS_OF + dt.timedelta(days=7)),
                known_by=dt.datetime.now(dt.UTC))
    return scored


# --- no run ----------------------------------------------------------------------------------

def test_without_a_run_readers_say_so_or_return_nothing(store: Store) -> None:
    with store.connect() as conn:
        for reader in (read.read_run, read.categories, read.ward_ranking, read.concentration):
            with pytest.raises(NotFoundError, match="no scoring run yet: run `placerisk score`"):
                reader(conn)
        page = read.cells(conn)
        starts, states = read.cell_states(conn)
        assert read.latest_run_id(conn) is None and read.run_period(conn) is None
    assert page.total == 0 and page.rows.empty
    assert list(page.rows.columns) == list(read.CELL_COLUMNS)
    assert starts == [] and states.empty and list(states.columns) == ["h3_cell", "states"]


# --- runs ------------------------------------------------------------------------------------

def test_read_run_is_the_newest_and_reads_its_step_table(two_runs: Store) -> None:
    with two_runs.connect() as conn:
        newest = read.read_run(conn)
        first = read.read_run(conn, 1, step_table=True)
    assert newest["id"] == 2 and newest["as_of"] == AS_OF + dt.timedelta(days=7)
    assert "steps" not in newest and "params_json" not in newest
    assert first["as_of"] == AS_OF and first["params"]["as_of"] == AS_OF.isoformat()
    assert first["params"]["weights"]["report_levels"]["4"] == 4.0
    steps = first["steps"]
    assert steps["step"].tolist() == list(range(first["n_steps"])) and len(steps) == 104
    assert steps["start"].iloc[0] == FIRST_STEP and steps["start"].iloc[-1] == AS_OF
    assert (np.diff(np.array(steps["start"], dtype="datetime64[D]")) == 7).all()


def test_read_run_states_the_period_its_data_cover(scored: Store) -> None:
    with scored.connect() as conn:
        run = read.read_run(conn)
    covered, coverage = run["covered"], run["coverage"]
    assert covered == read.covered(run)
    assert (covered["first"], covered["last"]) == (coverage["window"]["first"],
                                                  coverage["window"]["last"])
    assert covered["first"] == FIRST_STEP.isoformat() and covered["steps_scored"] == 104
    assert covered["sources"]["incidents"] == {"first": "2023-06-01", "last": "2025-06-30"}
    assert covered["sources"]["reports"] == {"first": "2023-07-03", "last": "2025-06-25"}
    assert "2025-04" in covered["missing_months"] and "2025-05" not in covered["missing_months"]


def test_an_older_run_without_coverage_states_none(scored: Store) -> None:
    with scored.begin() as conn:
        conn.execute(sa.update(schema.score_runs).values(coverage_json=None))
    with scored.connect() as conn:
        assert read.read_run(conn)["covered"] is None
        assert read.runs(conn).rows["covered"].tolist() == [None]
        assert "not recorded for this run" in read.run_period(conn)


def test_an_unknown_run_is_not_found(scored: Store) -> None:
    with scored.connect() as conn:
        for reader in (read.read_run, read.run):
            with pytest.raises(NotFoundError, match="run 99 not found"):
                reader(conn, 99)
        with pytest.raises(NotFoundError, match="run 99 not found"):
            read.cell(conn, P2_CELL, run_id=99)
        with pytest.raises(NotFoundError, match="run 99 not found"):
            read.categories(conn, run_id=99)
        assert read.cells(conn, run_id=99).total == 0


def test_runs_are_listed_newest_first_with_their_parameters(two_runs: Store) -> None:
    with two_runs.connect() as conn:
        every = read.runs(conn)
        page = read.runs(conn, limit=1, offset=1)
        first = read.read_run(conn, 1)
    assert every.rows["id"].tolist() == [2, 1] and every.total == 2
    assert page.rows["id"].tolist() == [1] and page.total == 2
    assert page.rows["params"].iloc[0] == first["params"]
    assert page.rows["covered"].iloc[0] == first["covered"]
    assert "params_json" not in every.rows.columns


def test_run_lists_its_step_starts(scored: Store) -> None:
    with scored.connect() as conn:
        run = read.run(conn, 1)
    assert len(run["steps"]) == run["n_steps"] == 104
    assert run["steps"][0] == FIRST_STEP and run["steps"][-1] == AS_OF
    assert isinstance(run["steps"][0], dt.date)


def test_latest_run_id_for_an_as_of_date(two_runs: Store) -> None:
    with two_runs.connect() as conn:
        assert read.latest_run_id(conn) == 2
        assert read.latest_run_id(conn, as_of=AS_OF) == 1
        assert read.latest_run_id(conn, as_of=dt.date(2020, 1, 1)) is None


# --- cells -----------------------------------------------------------------------------------

def test_cells_are_the_runs_highest_score_first(scored: Store) -> None:
    with scored.connect() as conn:
        page = read.cells(conn)
        top = read.cells(conn, limit=2, offset=1)
        n_cells = read.read_run(conn)["n_cells"]
    scores = page.rows["score"].astype(float).to_numpy()
    assert page.total == len(page.rows) == n_cells > 0
    assert (np.diff(scores) <= 0).all() and scores[0] > 0
    assert top.rows["h3_cell"].tolist() == page.rows["h3_cell"].iloc[1:3].tolist()
    assert top.total == n_cells and set(page.rows["run_id"]) == {1}


def test_cells_keep_the_ward_and_the_scope(scored: Store) -> None:
    with scored.connect() as conn:
        every = read.cells(conn)
        south = read.cells(conn, ward_code=SOUTH)
        hpl = read.cells(conn, scope=HPL_ONLY)
        stk = read.cells(conn, scope=STK_ONLY)
    assert set(south.rows["ward_code"]) == {SOUTH} and set(hpl.rows["ward_code"]) == {SOUTH}
    assert set(stk.rows["ward_code"]) == {NORTH}
    assert south.total == hpl.total > 0
    outside = int(every.rows["ward_code"].isna().sum())  # in no authority: seen by all only
    assert hpl.total + stk.total + outside == every.total


def test_cell_of_a_malformed_id_is_a_parameter_error(scored: Store) -> None:
    with scored.connect() as conn:
        for bad in ("nope", "89194655813fff", "zz194655813ffff"):
            with pytest.raises(ParameterError, match="is not an H3 cell id"):
                read.cell(conn, bad)


def test_cell_without_data_or_out_of_scope_is_not_found(scored: Store) -> None:
    with scored.connect() as conn:
        with pytest.raises(NotFoundError, match=f"cell {FAR_CELL} is not in run 1"):
            read.cell(conn, FAR_CELL)
        with pytest.raises(NotFoundError, match=f"cell {P2_CELL} is not in run 1"):
            read.cell(conn, P2_CELL, scope=STK_ONLY)


def test_cell_holds_its_parts_trend_and_steps(scored: Store) -> None:
    with scored.connect() as conn:
        cell = read.cell(conn, P2_CELL.upper())
        listed = read.cells(conn).rows.set_index("h3_cell").loc[P2_CELL]
    parts = cell["parts"]
    assert cell["h3_cell"] == P2_CELL and cell["ward_code"] == SOUTH and cell["run_id"] == 1
    assert cell["current"] == pytest.approx(float(listed["score"]))
    # patrol records count apart (include_patrol is off): the score is the other three
    assert cell["current"] == pytest.approx(parts["reports"] + parts["incidents"]
                                            + parts["places"])
    assert parts["patrol"] > 0 and parts["incidents"] > 0
    assert cell["patrol_share"] == pytest.approx(parts["patrol"] / sum(parts.values()))
    assert len(cell["steps"]) == 104 and cell["steps"][-1]["start"] == AS_OF
    assert cell["trend"]["direction"] == read.trend_direction(
        np.array([cell["trend"]["z"]]), np.array([cell["trend"]["p"]]), alpha=0.05)[0]


@pytest.mark.parametrize(("z", "p", "expected"), [
    ([2.5, -2.5, 2.5, -3.0], [0.01, 0.01, 0.2, 0.05],
     ["increasing", "decreasing", "no trend", "no trend"]),  # p == alpha: not significant
    ([0.0], [0.001], ["no trend"]),
    ([], [], []),
])
def test_trend_direction(z: list[float], p: list[float], expected: list[str]) -> None:
    assert read.trend_direction(np.array(z), np.array(p), alpha=0.05).tolist() == expected


def test_read_run_cells_with_and_without_series(scored: Store) -> None:
    with scored.connect() as conn:
        plain = read.read_run_cells(conn, 1)
        full = read.read_run_cells(conn, 1, series=True, scope=HPL_ONLY)
    assert not any(c.endswith("_series") for c in plain.columns)
    assert (np.diff(plain["current"].to_numpy(float)) <= 0).all()
    assert set(full["ward_code"]) == {SOUTH} and len(full) < len(plain)
    assert {len(s) for s in full["values_series"]} == {104}
    assert all(isinstance(f, bool) for f in full["sig_series"].iloc[0])


def test_cell_states_have_one_character_per_step(scored: Store) -> None:
    with scored.connect() as conn:
        starts, states = read.cell_states(conn)
        _, hpl = read.cell_states(conn, scope=HPL_ONLY)
        cells = read.read_run_cells(conn, 1, series=True).set_index("h3_cell")
    assert len(starts) == 104
    assert starts[0] == FIRST_STEP.isoformat() and starts[-1] == AS_OF.isoformat()
    assert {len(text) for text in states["states"]} == {104}
    # every cell significant at least once is listed, and no other
    assert set(states["h3_cell"]) == {n for n, s in cells["sig_series"].items() if any(s)}
    assert 0 < len(hpl) < len(states) and set(cells.loc[hpl["h3_cell"], "ward_code"]) == {SOUTH}


def test_cell_states_mark_hot_and_cold_steps(scored: Store) -> None:
    z, sig = np.full(104, -3.0), np.zeros(104, dtype=bool)
    z[50] = 3.0
    sig[[0, 50, 103]] = True
    c = schema.run_cells
    with scored.begin() as conn:
        assert R3_CELL in set(read.cell_states(conn)[1]["h3_cell"])
        conn.execute(sa.update(c).where(c.c.h3_cell == P2_CELL)
                     .values(z_series=pack(z), sig_series=pack(sig)))
        conn.execute(sa.update(c).where(c.c.h3_cell == R3_CELL)
                     .values(sig_series=pack(np.zeros(104, dtype=bool))))
    with scored.connect() as conn:
        _, states = read.cell_states(conn)
    text = states.set_index("h3_cell").loc[P2_CELL, "states"]
    assert text == "c" + "." * 49 + "h" + "." * 52 + "c"
    assert R3_CELL not in set(states["h3_cell"])  # no longer significant: left out


# --- categories, wards, concentration --------------------------------------------------------

def test_categories_add_up_to_the_grid(scored: Store) -> None:
    with scored.connect() as conn:
        meta, frame = read.categories(conn)
        run = read.read_run(conn)
    assert meta["run_id"] == 1 and meta["as_of"] == AS_OF
    assert frame["cells"].sum() == run["grid_size"] and frame["support_cells"].sum() == run["n_cells"]
    assert (frame["cells"] == frame["support_cells"] + frame["background_cells"]).all()
    assert frame["category"].tolist()[-1] == "no pattern" and len(frame) == 17


def test_categories_in_scope_count_its_support_cells_only(scored: Store) -> None:
    with scored.connect() as conn:
        _, hpl = read.categories(conn, scope=HPL_ONLY)
        _, none = read.categories(conn, scope=frozenset())
        in_scope = read.cells(conn, scope=HPL_ONLY).total
    assert hpl["background_cells"].sum() == 0 and hpl["cells"].sum() == in_scope
    assert none["cells"].sum() == 0


def test_ward_ranking_ranks_the_runs_wards(scored: Store) -> None:
    with scored.connect() as conn:
        meta, wards = read.ward_ranking(conn)
        stored = read.read_run_wards(conn, 1)
    assert wards["ward_code"].tolist() == [SOUTH, NORTH] and wards["rank"].tolist() == [1, 2]
    assert wards["name"].tolist() == ["South Box", "North Box"]
    assert wards["change"].isna().all() and meta["since"] is None and meta["since_step"] is None
    assert wards["current"].tolist() == stored["current"].tolist()
    assert {len(s) for s in stored["score_series"]} == {104}


def test_ward_ranking_since_a_date(scored: Store) -> None:
    since = dt.date(2025, 6, 4)  # a Wednesday: its step starts on Monday 2 June
    with scored.connect() as conn:
        meta, wards = read.ward_ranking(conn, since=since)
        stored = read.read_run_wards(conn, 1).set_index("ward_code")
    t = 99  # 2025-06-02 is step 99 of 0..103
    assert meta["since"] == since and meta["since_step"] == dt.date(2025, 6, 2)
    for ward, change in zip(wards["ward_code"], wards["change"], strict=True):
        expected = stored.loc[ward, "current"] - stored.loc[ward, "score_series"][t]
        assert change == pytest.approx(expected)


@pytest.mark.parametrize("since", [dt.date(2020, 1, 1), FIRST_STEP - dt.timedelta(days=1)])
def test_ward_ranking_since_outside_the_steps_names_the_range(scored: Store,
                                                              since: dt.date) -> None:
    with scored.connect() as conn:
        with pytest.raises(ParameterError, match=(
                f"since: {since} is outside the steps of run 1; expected a date from "
                f"{FIRST_STEP} to ")):
            read.ward_ranking(conn, since=since)


def test_ward_ranking_change_since_the_as_of_date_is_nothing(scored: Store) -> None:
    with scored.connect() as conn:
        _, wards = read.ward_ranking(conn, since=AS_OF)
    assert wards["change"].tolist() == pytest.approx([0.0, 0.0])


def test_ward_ranking_in_scope_ranks_its_wards_among_themselves(scored: Store) -> None:
    with scored.connect() as conn:
        _, stk = read.ward_ranking(conn, scope=STK_ONLY)
        _, none = read.ward_ranking(conn, scope=frozenset())
    assert stk["ward_code"].tolist() == [NORTH] and stk["rank"].tolist() == [1]
    assert none.empty and "change" in none.columns


def test_concentration_per_step(scored: Store) -> None:
    with scored.connect() as conn:
        meta, frame = read.concentration(conn)
        _, hpl = read.concentration(conn, scope=HPL_ONLY)
        steps = read.read_run(conn, step_table=True)["steps"]
        cells = read.read_run_cells(conn, 1, series=True, scope=HPL_ONLY)
    assert meta["run_id"] == 1 and frame["start"].tolist() == steps["start"].tolist()
    assert frame["total"].tolist() == steps["total"].tolist()
    assert hpl["start"].tolist() == steps["start"].tolist()
    # worked out again from the cells in scope: their step values add up to the total
    np.testing.assert_allclose(hpl["total"], np.vstack(cells["values_series"]).sum(axis=0))
    assert ((hpl["gini"] >= 0) & (hpl["gini"] <= 1)).all()


# --- explanations ----------------------------------------------------------------------------

def test_explain_cell_adds_up_to_its_score(scored: Store) -> None:
    with scored.connect() as conn:
        meta, explanation = read.explain_cell(conn, P2_CELL)
        current = read.cell(conn, P2_CELL)["current"]
    assert meta["kind"] == "cell" and meta["key"] == P2_CELL and meta["as_of"] == AS_OF
    assert explanation.score == pytest.approx(current)
    assert {c.record for c in explanation.top} >= {"R1", "R2"}


def test_explain_cell_refuses_what_it_cannot_explain(scored: Store) -> None:
    with scored.connect() as conn:
        with pytest.raises(ParameterError, match="is not an H3 cell id"):
            read.explain_cell(conn, "nope")
        with pytest.raises(NotFoundError, match=f"cell {FAR_CELL} holds no records"):
            read.explain_cell(conn, FAR_CELL)
        with pytest.raises(NotFoundError, match="holds no records"):  # the run puts it in HPL
            read.explain_cell(conn, P2_CELL, scope=STK_ONLY)
        with pytest.raises(ParameterError, match="as_of: 2020-01-01 is outside the steps"):
            read.explain_cell(conn, P2_CELL, as_of=dt.date(2020, 1, 1))
        assert read.explain_cell(conn, PATROL_CELL, scope=STK_ONLY)[0]["key"] == PATROL_CELL


def test_explain_ward_adds_up_to_its_score_and_keeps_the_scope(scored: Store) -> None:
    with scored.connect() as conn:
        meta, explanation = read.explain_ward(conn, NORTH)
        _, wards = read.ward_ranking(conn)
        for ward, scope in (("E05999999", None), (SOUTH, STK_ONLY)):
            with pytest.raises(NotFoundError, match=f"ward {ward} is not a loaded area"):
                read.explain_ward(conn, ward, scope=scope)
    assert meta["kind"] == "ward" and meta["key"] == NORTH
    assert explanation.score == pytest.approx(wards.set_index("ward_code").loc[NORTH, "current"])
