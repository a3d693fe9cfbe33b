"""Stored scoring runs on both back ends: as-of reproduction and incremental = full."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from layers.hotspots.engine import ScoreParams
from layers.hotspots.read import read_run, read_run_cells, read_run_wards
from layers.hotspots.runs import run_scoring
from layers.records import importer as loader
from layers.store import engine as store_module
from layers.store import schema
from layers.store.engine import replace_areas

AS_OF = dt.date(2025, 6, 29)
HEADER = "report_id,reported_on,latitude,longitude,mace_level,patrol_discovered\n"


def at(monkeypatch, when: dt.datetime) -> None:
    """Make the store stamp records as created at ``when``."""
    monkeypatch.setattr(store_module, "utcnow", lambda: when)
    monkeypatch.setattr(loader, "utcnow", lambda: when)


def write_reports(path: Path, rows: list[tuple]) -> Path:
    path.write_text(HEADER + "".join(f"{i},{d},{lat},{lng},{lv},false\n"
                                     for i, d, lat, lng, lv in rows))
    return path


def weekly_rows(prefix: str, first: dt.date, weeks: int, lat: float, lng: float, per: int = 4
                ) -> list[tuple]:
    return [(f"{prefix}{w}-{j}", first + dt.timedelta(days=7 * w + j), lat, lng, 3)
            for w in range(weeks) for j in range(per)]


@pytest.fixture
def scored(store, tmp_path, monkeypatch):
    areas = gpd.GeoDataFrame(
        {"code": ["W1"], "name": ["Ward one"], "authority_code": ["E06000004"],
         "authority_name": ["Stockton-on-Tees"], "vintage": ["2024"]},
        geometry=[shapely.box(-1.40, 54.52, -1.30, 54.58)], crs="EPSG:4326")
    replace_areas(store, areas, source="test")
    at(monkeypatch, dt.datetime(2025, 6, 20, tzinfo=dt.UTC))
    rows = (weekly_rows("A", dt.date(2023, 7, 10), 100, 54.55, -1.35)
            + weekly_rows("B", dt.date(2025, 3, 3), 15, 54.53, -1.32, per=2)
            + [(f"N{i}", dt.date(2023, 8, 1) + dt.timedelta(days=5 * i),
                54.521 + 0.0005 * (i % 100), -1.399 + 0.0009 * (i % 97), 2)
               for i in range(140)])
    result = loader.import_file(store, "reports", write_reports(tmp_path / "r1.csv", rows))
    assert result.rejected == 0, result.messages
    return store


def snapshot(store, run_id: int):
    with store.connect() as conn:
        cells = read_run_cells(conn, run_id, series=True).sort_values("h3_cell")
        wards = read_run_wards(conn, run_id)
    return cells.drop(columns="run_id").reset_index(drop=True), wards


def test_as_of_reproduces_a_past_run_despite_late_records(scored, tmp_path, monkeypatch):
    first = run_scoring(scored, ScoreParams(as_of=AS_OF))
    assert first.later_records == 0
    at(monkeypatch, dt.datetime(2025, 7, 15, tzinfo=dt.UTC))  # after the meeting
    late = [(f"L{i}", dt.date(2025, 6, 2) + dt.timedelta(days=i % 20), 54.575, -1.305, 4)
            for i in range(40)]
    loader.import_file(scored, "reports", write_reports(tmp_path / "late.csv", late))
    again = run_scoring(scored, ScoreParams(as_of=AS_OF), incremental=False)
    assert again.later_records == 40
    cells_a, wards_a = snapshot(scored, first.run_id)
    cells_b, wards_b = snapshot(scored, again.run_id)
    assert cells_a.equals(cells_b)
    assert wards_a.drop(columns="run_id").to_string() == wards_b.drop(columns="run_id").to_string()
    now = run_scoring(scored, ScoreParams(as_of=AS_OF),
                      known_by=dt.datetime(2025, 7, 16, tzinfo=dt.UTC))
    assert not snapshot(scored, now.run_id)[0].equals(cells_a)


def test_incremental_rescoring_equals_a_full_recompute(scored, tmp_path, monkeypatch):
    run_scoring(scored, ScoreParams(as_of=AS_OF - dt.timedelta(days=7)))
    at(monkeypatch, dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
    week = [(f"W{i}", dt.date(2025, 6, 24) + dt.timedelta(days=i % 5), 54.57, -1.31, 4)
            for i in range(12)]
    loader.import_file(scored, "reports", write_reports(tmp_path / "week.csv", week))
    cutoff = dt.datetime(2025, 6, 30, 23, tzinfo=dt.UTC)
    incremental = run_scoring(scored, ScoreParams(as_of=AS_OF), known_by=cutoff)
    full = run_scoring(scored, ScoreParams(as_of=AS_OF), known_by=cutoff, incremental=False)
    assert incremental.hotspots.reused_steps >= 100
    assert full.hotspots.reused_steps == 0
    cells_i, _ = snapshot(scored, incremental.run_id)
    cells_f, _ = snapshot(scored, full.run_id)
    assert cells_i["h3_cell"].tolist() == cells_f["h3_cell"].tolist()
    for column in ("z_series", "p_series", "values_series"):
        np.testing.assert_allclose(np.vstack(cells_i[column]), np.vstack(cells_f[column]),
                                   rtol=0, atol=1e-12)
    assert cells_i["category"].tolist() == cells_f["category"].tolist()


def test_a_run_is_stored_with_its_parameters(scored):
    run = run_scoring(scored, ScoreParams(as_of=AS_OF, k=2, correction="holm"))
    with scored.connect() as conn:
        stored = read_run(conn, run.run_id, step_table=True)
        n_cells = conn.scalar(sa.select(sa.func.count()).select_from(schema.run_cells)
                              .where(schema.run_cells.c.run_id == run.run_id))
    assert stored["params"]["k"] == 2 and stored["params"]["correction"] == "holm"
    assert stored["params"]["weights"]["report_levels"]["4"] == 4.0
    # the reports begin on 2023-07-10, a week into the 104 weeks: the run starts there
    assert stored["as_of"] == AS_OF and len(stored["steps"]) == 103
    assert stored["steps"]["start"].iloc[0] == dt.date(2023, 7, 10)
    assert n_cells == len(run.hotspots.cells) > 0
