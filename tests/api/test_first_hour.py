"""A new analyst's first hour, on real files only (issue 10's acceptance test).

Both 2024 ward files (and the 2013 files refused as older vintages), the TS postcodes, three
months of Cleveland police.uk crime, and places inside a ward, on a ward line, by postcode
and outside every ward; score with the defaults; every view and the briefing pack; export
and import back. It catches a crash on places outside every ward, a default window that
holds none of the data, steps before the data counted as quiet weeks, partial updates that
wipe notes, and exports that do not import back.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.settings import Settings
from layers.hotspots.read import read_run
from layers.store import schema
from layers.store.engine import open_store
from tests._pages import page_text
from tests.api.conftest import ensure_accounts_in, sign_in

MONTHS = ("2024-01", "2024-02", "2024-03")
ROWS = 6561 + 6641 + 7690  # every row of the three months, identical ASB rows included
NOTE = "FIRST-HOUR-NOTE: seen from the bus stop"
PERIOD = ("Scored 13 weeks, 2024-01-01 to 2024-03-31 (104 asked; the data begin later). "
          "Data: police.uk crime 2024-01-01 to 2024-03-31.")
STOCKTON_CENTRE = "E05014882"
OUTSIDE = (54.5760, -1.2340)  # Middlesbrough town centre: no ward of the hub's authorities
COLUMNS = ("place_id", "name", "category", "postcode", "latitude", "longitude", "mace_level",
           "exploitation_types", "source_agency", "assessed_on", "review_due", "notes")


def cli(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


def on_a_ward_line(boundaries: Path) -> tuple[float, float]:
    """A point on the line between two 2024 Stockton-on-Tees wards."""
    wards = gpd.read_file(boundaries / "stockton_wards_2024.geojson")
    a = wards.loc[wards["WD24CD"] == STOCKTON_CENTRE].geometry.iloc[0]
    for b in wards.loc[wards["WD24CD"] != STOCKTON_CENTRE].geometry:
        shared = shapely.intersection(a.boundary, b.boundary)
        if shared.length > 0:
            point = shapely.line_interpolate_point(shapely.line_merge(shared), 0.5,
                                                   normalized=True)
            point = point if point.geom_type == "Point" else shapely.get_point(point, 0)
            return point.y, point.x
    raise AssertionError("no neighbour of Stockton Town Centre found")


def write_places(path: Path, boundaries: Path) -> Path:
    line_lat, line_lng = on_a_ward_line(boundaries)
    rows = [
        ("FH-IN", "Synthetic takeaway, High Street", "takeaway", "", 54.5670, -1.3140, 4,
         "cce;cse", "Cleveland Police", "2023-11-02", "2024-05-02", NOTE),
        ("FH-PC", "Synthetic shop by postcode", "shop", "TS18 1AE", "", "", 3, "cce",
         "Stockton Council", "2024-01-15", "", "by postcode"),
        ("FH-LINE", "Synthetic bus stop on a ward line", "transport_hub", "", line_lat,
         line_lng, 2, "missing", "Youth service", "2024-02-01", "", ""),
        ("FH-OUT", "Synthetic car park outside the hub's wards", "car_park", "", OUTSIDE[0],
         OUTSIDE[1], 3, "cce", "Cleveland Police", "2024-02-10", "", "outside"),
        ("FH-HPL", "Synthetic flats, Hartlepool", "residential", "", 54.6855, -1.2145, 3,
         "cse", "Hartlepool Council", "2024-01-20", "", ""),
    ]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def place_rows(db: Path) -> dict[str, dict]:
    store = open_store(db)
    try:
        with store.connect() as conn:
            p = schema.places
            rows = conn.execute(sa.select(p.c.source_id, p.c.ward_code, p.c.outside_areas,
                                          p.c.notes, p.c.h3_cell)).mappings().all()
        return {r["source_id"]: dict(r) for r in rows}
    finally:
        store.close()


@pytest.fixture(scope="module")
def hour(tmp_path_factory, shared_data) -> Path:
    """The store as the analyst leaves it after loading everything and scoring."""
    folder = tmp_path_factory.mktemp("first-hour")
    db = folder / "hub.db"
    boundaries = shared_data / "boundaries"
    for name in ("stockton", "hartlepool"):
        result = cli(db, "boundaries", "load", str(boundaries / f"{name}_wards_2024.geojson"))
        assert result.exit_code == 0, result.output
    for name in ("stockton", "hartlepool"):
        older = cli(db, "boundaries", "load", str(boundaries / f"{name}_wards_2013.geojson"))
        assert older.exit_code == 1 and "--allow-older" in older.output
    postcodes = shared_data / "postcodes" / "codepoint_open_ts.csv"
    assert cli(db, "postcodes", "load", str(postcodes)).exit_code == 0
    files = [str(shared_data / "police_uk" / f"{m}-cleveland-street.csv") for m in MONTHS]
    result = cli(db, "import", "police-uk", *files)
    assert result.exit_code == 0, result.output
    again = cli(db, "import", "police-uk", *files)  # Crime IDs repeat across months
    assert again.exit_code == 0 and again.output.count("inserted 0,") == 3
    result = cli(db, "import", "places", str(write_places(folder / "places.csv", boundaries)))
    assert result.exit_code == 0, result.output
    result = cli(db, "score")
    assert result.exit_code == 0, result.output
    return db


def test_every_record_is_kept_and_places_outside_are_flagged(hour):
    store = open_store(hour)
    try:
        with store.connect() as conn:
            incidents = conn.scalar(sa.select(sa.func.count()).select_from(schema.incidents))
    finally:
        store.close()
    assert incidents == ROWS
    places = place_rows(hour)
    assert places["FH-IN"]["ward_code"] == STOCKTON_CENTRE
    assert places["FH-PC"]["ward_code"] == STOCKTON_CENTRE  # TS18 1AE's ward in Code-Point
    assert places["FH-LINE"]["ward_code"] is not None and not places["FH-LINE"]["outside_areas"]
    assert places["FH-HPL"]["ward_code"] == "E05013049"  # Victoria, Hartlepool
    assert places["FH-OUT"]["ward_code"] is None and places["FH-OUT"]["outside_areas"]


def test_the_default_run_scores_the_data_it_has(hour):
    store = open_store(hour)
    try:
        with store.connect() as conn:
            run = read_run(conn, 1, step_table=True)
    finally:
        store.close()
    assert run["as_of"] == dt.date(2024, 3, 31)
    assert run["n_steps"] == 13 and run["n_cells"] > 1000
    assert str(run["steps"]["start"].iloc[0]) == "2024-01-01"
    assert run["coverage"]["sources"]["incidents"] == {"first": "2024-01-01",
                                                      "last": "2024-03-31"}


def test_every_view_and_the_pack_render(hour, tmp_path):
    for view, extra in (("jag", []), ("ward", ["--ward", STOCKTON_CENTRE]),
                        ("patrol", ["--ward", STOCKTON_CENTRE]), ("guardian", [])):
        out = tmp_path / f"{view}.html"
        result = cli(hour, "map", "--view", view, *extra, "--out", str(out))
        assert result.exit_code == 0, (view, result.output)
        assert out.stat().st_size > 10_000
        if view != "guardian":  # which states its own fixed period
            assert PERIOD in page_text(out.read_text(encoding="utf-8")), view
    pack = tmp_path / "pack.html"
    result = cli(hour, "briefing", "--meeting", "2024-03-31", "--out", str(pack))
    assert result.exit_code == 0, result.output
    assert PERIOD in page_text(pack.read_text(encoding="utf-8"))


def test_every_page_serves_to_its_role(hour, tmp_path):
    db = tmp_path / "served.db"
    shutil.copy(hour, db)
    ensure_accounts_in(db)
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as client:
        sign_in(client, "analyst")
        for path in ("/", "/wards", f"/wards/{STOCKTON_CENTRE}",
                     f"/patrol?ward={STOCKTON_CENTRE}", "/outcomes", "/review",
                     "/briefing?meeting=2024-03-31", "/api/places?limit=10",
                     f"/api/explain/ward/{STOCKTON_CENTRE}"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
        ranking = client.get("/api/wards/ranking").json()
        assert ranking["covered"]["first"] == "2024-01-01"
        assert {w["ward_code"] for w in ranking["data"]} >= {STOCKTON_CENTRE, "E05013049"}
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as guardian:
        sign_in(guardian, "guardian")
        assert guardian.get("/guardian").status_code == 200


def test_exports_import_back_and_updates_keep_what_they_were_not_given(hour, tmp_path,
                                                                       shared_data):
    first = tmp_path / "places.csv"
    assert cli(hour, "export", "places", "--out", str(first)).exit_code == 0
    fresh = tmp_path / "fresh.db"
    for name in ("stockton", "hartlepool"):
        path = shared_data / "boundaries" / f"{name}_wards_2024.geojson"
        assert cli(fresh, "boundaries", "load", str(path)).exit_code == 0
    result = cli(fresh, "import", "places", str(first))
    assert result.exit_code == 0, result.output
    second = tmp_path / "again.csv"
    assert cli(fresh, "export", "places", "--out", str(second)).exit_code == 0
    assert second.read_bytes() == first.read_bytes()
    # a partial update (no notes column) leaves the stored notes alone
    db = tmp_path / "updated.db"
    shutil.copy(hour, db)
    partial = tmp_path / "partial.csv"
    partial.write_text("place_id,name,category,mace_level\n"
                       "FH-IN,Synthetic takeaway (renamed),takeaway,4\n", encoding="utf-8")
    result = cli(db, "import", "places", str(partial))
    assert result.exit_code == 0, result.output
    places = place_rows(db)
    assert places["FH-IN"]["notes"] == NOTE
    assert places["FH-IN"]["h3_cell"] == place_rows(hour)["FH-IN"]["h3_cell"]
