"""`placerisk score` on the real police.uk months: the window, its as-of day and warnings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from layers.hotspots.coverage import covered_text
from layers.hotspots.read import covered, read_run
from layers.store import schema
from layers.store.engine import open_store

MONTHS = ("2024-01", "2024-02", "2024-03")


def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, shared_data) -> Path:
    """Both 2024 ward files and three police.uk months, stored today; never scored."""
    db = tmp_path_factory.mktemp("score") / "real.db"
    for name in ("stockton_wards_2024.geojson", "hartlepool_wards_2024.geojson"):
        assert run(db, "boundaries", "load", str(shared_data / "boundaries" / name)
                   ).exit_code == 0
    files = [str(shared_data / "police_uk" / f"{m}-cleveland-street.csv") for m in MONTHS]
    assert run(db, "import", "police-uk", *files).exit_code == 0
    return db


@pytest.fixture
def db(loaded, tmp_path) -> Path:
    copy = tmp_path / "real.db"
    shutil.copy(loaded, copy)
    return copy


def stored_run(db: Path, run_id: int = 1) -> dict:
    store = open_store(db)
    try:
        with store.connect() as conn:
            return read_run(conn, run_id, step_table=True)
    finally:
        store.close()


def test_defaults_score_the_newest_data_and_say_so(db):
    result = run(db, "score")
    assert result.exit_code == 0, result.output
    assert "the newest record is dated 2024-03-31, so this run is as of 2024-03-31" in (
        result.output)
    assert "scored the 13 weeks from 2024-01-01, not the 104 asked for" in result.output
    assert "no pattern 2" in result.output and "persistent hot spot" in result.output
    assert "every cell will show no pattern" not in result.output
    stored = stored_run(db)
    assert str(stored["as_of"]) == "2024-03-31" and stored["n_steps"] == 13
    assert stored["coverage"]["sources"] == {
        "incidents": {"first": "2024-01-01", "last": "2024-03-31"}}


def test_a_past_as_of_explains_known_by_in_the_message(db):
    alone = run(db, "score", "--as-of", "2024-03-31")
    assert alone.exit_code == 0
    assert "holds no concern reports and no police.uk crime" in alone.output
    assert "20892 records dated up to 2024-03-31 were stored after" in alone.output
    assert "add --known-by with a later time" in alone.output
    counted = run(db, "score", "--as-of", "2024-03-31", "--known-by", "2099-01-01")
    assert counted.exit_code == 0
    assert "holds no concern reports" not in counted.output
    assert "run 2: 13 weeks to 2024-03-31" in counted.output


@pytest.mark.parametrize(("steps", "scored"), [("3", 3), ("4", 3), ("24", 3)])
def test_month_steps_work_for_every_count_accepted(db, steps, scored):
    """Regression: --step month --steps 3 (or 4) failed with an internal message."""
    result = run(db, "score", "--step", "month", "--steps", steps)
    assert result.exit_code == 0, result.output
    assert f"run 1: {scored} months to 2024-03-31" in result.output
    assert "recent" not in result.output


def test_too_short_a_period_is_refused_in_the_users_terms(db):
    result = run(db, "score", "--as-of", "2024-01-10", "--known-by", "2099-01-01")
    assert result.exit_code == 1
    assert "only 2 whole weeks of the 104 asked for" in result.output
    assert "needs at least 3" in result.output
    assert "Traceback" not in result.output


def test_a_future_as_of_is_refused_up_front(db):
    result = run(db, "score", "--as-of", "2999-01-01")
    assert result.exit_code == 2 and "2999-01-01 is after today" in result.output
    assert stored_run_count(db) == 0


def stored_run_count(db: Path) -> int:
    store = open_store(db)
    try:
        with store.connect() as conn:
            return len(conn.execute(sa.select(schema.score_runs.c.id)).all())
    finally:
        store.close()


@pytest.mark.parametrize("steps", ["1", "2", "521"])
def test_step_counts_outside_the_range_are_usage_errors(db, steps):
    result = run(db, "score", "--steps", steps)
    assert result.exit_code == 2 and "--steps" in result.output


def test_a_missing_police_uk_month_is_warned_and_stated(tmp_path, shared_data):
    """Only January and March imported: February would count as a month without crime."""
    db = tmp_path / "gap.db"
    assert run(db, "boundaries", "load", str(shared_data / "boundaries" /
                                             "stockton_wards_2024.geojson")).exit_code == 0
    files = [str(shared_data / "police_uk" / f"{m}-cleveland-street.csv")
             for m in ("2024-01", "2024-03")]
    assert run(db, "import", "police-uk", *files).exit_code == 0
    result = run(db, "score")
    assert result.exit_code == 0, result.output
    assert "police.uk crime has no records for 2024-02, between months that have some" in (
        " ".join(result.output.split()))
    stored = stored_run(db)
    assert stored["coverage"]["missing_months"] == ["2024-02"]
    text = covered_text(covered(stored), step="week")
    assert "No police.uk crime was imported for 2024-02" in text  # on maps and the pack


def test_no_missing_month_is_claimed_when_every_month_is_there(db):
    assert run(db, "score").exit_code == 0
    assert "missing_months" not in stored_run(db)["coverage"]
