"""Exports for GIS users: every layer in every format reads back in QGIS terms (rows, CRS,
geometry types, columns), GeoJSON is RFC 7946, notes never leave, CSV cannot run formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa

from layers import errors
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.reporting import export_files as export_io
from layers.reporting import export_inputs, exports
from layers.store import schema
from layers.store.engine import Store, open_store
from tests.api.conftest import AS_OF, LAT, LNG, NOTE, build_store

FORMULAS = ['=HYPERLINK("http://x")', "+cmd", "@SUM(1)", "-2+3"]
DISTINCT_NOTE = "ZEBRA-7731-notes-must-not-leave"
OUTSIDE = (54.605, -1.32)  # just north of both boxes: kept, flagged, never dropped
MORE = {
    "places": [
        {"place_id": f"F{i}", "name": name, "category": "other", "latitude": 54.552 + i / 100,
         "longitude": -1.345, "mace_level": 2, "notes": f"{DISTINCT_NOTE} {i}"}
        for i, name in enumerate(FORMULAS)
    ] + [{"place_id": "OUT", "name": "Outside Cafe", "category": "takeaway",
          "latitude": OUTSIDE[0], "longitude": OUTSIDE[1], "mace_level": 3,
          "notes": DISTINCT_NOTE}],
    "activities": [{"activity_id": "A3", "activity_type": "other",
                    "started_at": "2025-06-21T09:00", "place_id": "F0", "agency": "Council",
                    "outcome": "@SUM(1)", "jag_ref": "-JAG-12"}],
}
GEOMETRY = {"cells": {"Polygon"}, "places": {"Point"}, "reports": {"Point"},
            "activities": {"Point"}, "wards": {"MultiPolygon"}}
SLACK = 0.01  # a hexagon near a box edge, or the place just outside, reaches a little beyond
CSV_OPTIONS = {"GEOM_POSSIBLE_NAMES": "geometry_wkt", "KEEP_GEOM_COLUMNS": "NO"}
MATRIX = [(what, fmt) for what in exports.EXPORTS for fmt in export_io.FORMATS]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The scored synthetic store with formula-named places and distinctive notes."""
    db = build_store(tmp_path_factory.mktemp("exports"), more=MORE)
    opened = open_store(db)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def frames(store: Store) -> dict[str, gpd.GeoDataFrame]:
    with store.connect() as conn:
        return {what: export_inputs.load_export(conn, what) for what in exports.EXPORTS}


@pytest.fixture(scope="module")
def totals(store: Store) -> dict[str, int]:
    with store.connect() as conn:
        return {"cells": hotspots_read.cells(conn).total, "places": records_read.places(conn).total,
                "reports": conn.scalar(sa.select(sa.func.count()).select_from(schema.reports)),
                "activities": records_read.activities(conn).total,
                "wards": len(hotspots_read.ward_ranking(conn)[1])}


def read_back(path: Path, fmt: str) -> gpd.GeoDataFrame:
    if fmt == "csv":
        frame = pyogrio.read_dataframe(path, **CSV_OPTIONS)
        assert frame.crs is None  # CSV carries no CRS: its WKT is WGS84 by contract
        return frame.set_crs("EPSG:4326")
    return gpd.read_file(path)


# --- the format matrix -------------------------------------------------------------------

@pytest.mark.parametrize(("what", "fmt"), MATRIX)
def test_every_export_reads_back(tmp_path, frames, totals, what, fmt):
    path = export_io.write_export(frames[what], tmp_path / f"out.{fmt}", fmt)
    back = read_back(path, fmt)
    assert len(back) == totals[what] > 0
    assert back.crs.to_epsg() == 4326
    assert set(back.geom_type.dropna()) == GEOMETRY[what]
    expected = list(exports.COLUMNS[what])
    if fmt == "csv" and GEOMETRY[what] == {"Point"}:
        expected += ["latitude", "longitude"]
    assert [c for c in back.columns if c != back.geometry.name] == expected
    if fmt == "gpkg":
        assert [name for name, _ in pyogrio.list_layers(path)] == [what]
        assert pyogrio.read_info(path)["geometry_type"] == next(iter(GEOMETRY[what]))


@pytest.mark.parametrize("what", exports.EXPORTS)
def test_csv_is_utf8_with_bom_wkt_and_latitude_longitude(frames, what):
    data = export_io.csv_bytes(frames[what])
    assert data.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    geoms = shapely.from_wkt(table["geometry_wkt"].dropna().to_numpy())
    assert set(shapely.get_type_id(geoms)) == {
        {"Point": 0, "Polygon": 3, "MultiPolygon": 6}[next(iter(GEOMETRY[what]))]}
    if GEOMETRY[what] == {"Point"}:
        located = table.dropna(subset=["geometry_wkt"])
        np.testing.assert_allclose(shapely.get_x(geoms), located["longitude"])
        np.testing.assert_allclose(shapely.get_y(geoms), located["latitude"])


def test_geopackage_keeps_its_other_layers(tmp_path, frames):
    path = tmp_path / "jag.gpkg"
    for what in exports.EXPORTS:
        export_io.write_export(frames[what], path, "gpkg")
    export_io.write_export(frames["places"], path, "gpkg")  # again: replaced, not doubled
    assert sorted(name for name, _ in pyogrio.list_layers(path)) == sorted(exports.EXPORTS)
    assert len(gpd.read_file(path, layer="places")) == len(frames["places"])


# --- GeoJSON -----------------------------------------------------------------------------

def positions(geometry: dict) -> np.ndarray:
    """Every position of a GeoJSON geometry, as written: (first, second) number."""
    return shapely.get_coordinates(shapely.geometry.shape(geometry))


@pytest.mark.parametrize("what", exports.EXPORTS)
def test_geojson_is_rfc7946_in_lng_lat_order(frames, what):
    data, media_type, _ = export_io.export_bytes(frames[what], "geojson", what)
    assert media_type == "application/geo+json"
    collection = json.loads(data)
    assert "crs" not in collection  # RFC 7946: WGS84 implied, no crs member
    features = collection["features"]
    assert len(features) == len(frames[what])
    for feature in features:
        for lng, lat in positions(feature["geometry"]):
            assert LNG[0] - SLACK <= lng <= LNG[1] + SLACK, (lng, lat)
            assert LAT[0] - SLACK <= lat <= LAT[1] + SLACK, (lng, lat)
        if feature["geometry"]["type"] in ("Polygon", "MultiPolygon"):
            shape = shapely.geometry.shape(feature["geometry"])
            polygons = getattr(shape, "geoms", [shape])
            assert all(p.exterior.is_ccw for p in polygons)  # RFC 7946 winding


def test_points_outside_every_ward_are_kept_and_flagged(frames):
    places = frames["places"]
    (outside,) = places.index[places["place_id"] == "OUT"]
    assert places.loc[outside, "outside_areas"]
    assert places.loc[outside, "ward_code"] is None
    point = places.geometry[outside]
    assert (point.y, point.x) == OUTSIDE
    assert not places.drop(index=outside)["outside_areas"].any()


# --- what never leaves -------------------------------------------------------------------

@pytest.mark.parametrize(("what", "fmt"), MATRIX)
def test_notes_never_appear_in_any_export(frames, what, fmt):
    data, _, _ = export_io.export_bytes(frames[what], fmt, what)
    for secret in (NOTE, DISTINCT_NOTE, "protective"):
        assert secret.encode() not in data
    assert b"notes" not in data


def test_places_frame_drops_notes_even_when_read(store):
    with store.connect() as conn:
        rows = records_read.places(conn, with_notes=True).rows
    assert rows["notes"].notna().any()
    frame = exports.places_frame(rows)
    assert "notes" not in frame.columns
    assert DISTINCT_NOTE not in frame.to_json()


# --- spreadsheets ------------------------------------------------------------------------

def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_defuses_formulas_in_text(frames):
    data, media_type, _ = export_io.export_bytes(frames["places"], "csv", "places")
    assert media_type == "text/csv"
    names = {row["place_id"]: row["name"] for row in csv_rows(data)}
    for i, formula in enumerate(FORMULAS):
        assert names[f"F{i}"] == "'" + formula
    assert names["P4"] == "Corner Shop"
    text = data.decode("utf-8-sig")
    assert '"=HYPERLINK' not in text and "\n=" not in text and ",=" not in text
    activities = {r["activity_id"]: r
                  for r in csv_rows(export_io.csv_bytes(frames["activities"]))}
    assert activities["A3"]["outcome"] == "'@SUM(1)"
    assert activities["A3"]["jag_ref"] == "'-JAG-12"


def test_csv_keeps_negative_numbers_numeric(frames):
    data = export_io.csv_bytes(frames["places"])
    lines = data.decode("utf-8-sig").splitlines()
    rows = csv_rows(data)
    assert all(float(row["longitude"]) < 0 for row in rows)
    assert all(not row["longitude"].startswith("'") for row in rows)
    assert ",-1.34," in lines[1]  # unquoted, so a spreadsheet reads a number
    cells = pd.read_csv(io.BytesIO(export_io.csv_bytes(frames["cells"])), encoding="utf-8-sig")
    assert cells["trend_z"].dtype == float and (cells["trend_z"] < 0).any()
    assert cells["score"].dtype == float and cells["run_id"].dtype == np.int64


# --- names, runs and errors --------------------------------------------------------------

def test_file_names_carry_the_run_date_or_today(frames):
    assert export_io.export_bytes(frames["cells"], "gpkg", "cells")[2] == (
        f"placerisk-cells-{AS_OF}.gpkg")
    assert export_io.export_bytes(frames["wards"], "csv", "wards")[2] == (
        f"placerisk-wards-{AS_OF}.csv")
    assert export_io.export_bytes(frames["places"], "geojson", "places")[2] == (
        f"placerisk-places-{dt.date.today()}.geojson")


def test_run_exports_carry_their_run(store, frames):
    for what in ("cells", "wards"):
        assert set(frames[what]["run_id"]) == {1}
        assert set(frames[what]["as_of"]) == {AS_OF.isoformat()}
    with store.connect() as conn:
        again = export_inputs.load_export(conn, "cells", run_id=1)
        with pytest.raises(errors.NotFoundError, match="run 99 not found"):
            export_inputs.load_export(conn, "wards", run_id=99)
        with pytest.raises(errors.ParameterError, match="run_id applies to cells and wards"):
            export_inputs.load_export(conn, "places", run_id=1)
        with pytest.raises(exports.UnknownExportError, match="unknown export 'notes'"):
            export_inputs.load_export(conn, "notes")
    assert len(again) == len(frames["cells"])
    wards = frames["wards"]
    assert wards["rank"].tolist() == sorted(wards["rank"])
    assert set(wards["name"]) == {"North Box", "South Box"}
    assert set(wards["authority"]) == {"Stockton-on-Tees"}


@pytest.mark.parametrize("what", ["cells", "wards"])
def test_no_run_yet_says_to_score_first(sqlite_store, what):
    with sqlite_store.connect() as conn, pytest.raises(errors.NotFoundError,
                                                         match="run `placerisk score` first"):
        export_inputs.load_export(conn, what)


@pytest.mark.parametrize("fmt", list(export_io.FORMATS))
def test_an_empty_store_exports_empty_layers(sqlite_store, tmp_path, fmt):
    with sqlite_store.connect() as conn:
        frame = export_inputs.load_export(conn, "places")
    path = export_io.write_export(frame, tmp_path / f"empty.{fmt}", fmt)
    assert len(read_back(path, fmt)) == 0
    if fmt == "gpkg":
        assert pyogrio.read_info(path)["geometry_type"] == "Point"


def test_unknown_format_is_refused(frames, tmp_path):
    with pytest.raises(exports.UnknownExportError, match="unknown export format 'shp'"):
        export_io.write_export(frames["places"], tmp_path / "x.shp", "shp")


def test_a_ranked_ward_no_longer_loaded_keeps_its_row():
    ranking = pd.DataFrame({"ward_code": ["E1", "GONE"], "name": ["One", None], "rank": [1, 2],
                            "current": [2.0, 1.0], "direction": ["increasing", "no trend"],
                            "trend_z": [2.5, -0.1], "trend_p": [0.01, 0.9],
                            "patrol_share": [0.0, 0.5]})
    areas = gpd.GeoDataFrame({"code": ["E1"], "name": ["One"], "authority_code": ["A"],
                              "authority_name": ["Auth"]},
                             geometry=[shapely.box(-1.3, 54.5, -1.2, 54.6)], crs="EPSG:4326")
    frame = exports.wards_frame(ranking, areas, run_id=3, as_of=dt.date(2025, 6, 30))
    assert frame["ward_code"].tolist() == ["E1", "GONE"]
    assert frame.geom_type[0] == "MultiPolygon" and frame.geometry[1] is None
    assert frame["name"].tolist() == ["One", None]
    assert frame["authority"].tolist() == ["Auth", None]
    assert frame["run_id"].tolist() == [3, 3] and frame.attrs["as_of"] == dt.date(2025, 6, 30)
