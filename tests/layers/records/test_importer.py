"""Imports: clear messages for bad rows, nothing lost, nothing doubled, on both back ends."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from layers.records import importer as loader
from layers.records.importer import ImportFileError, import_file, import_police_uk, import_postcodes
from layers.store import schema
from layers.store.engine import replace_areas

PLACES_HEADER = ("place_id,name,category,address,postcode,latitude,longitude,mace_level,"
                 "exploitation_types,source_agency,assessed_on,review_due,notes")
REPORTS_HEADER = ("report_id,reported_on,place_id,latitude,longitude,postcode,mace_level,"
                  "exploitation_type,source_agency,patrol_discovered,source_grade,intel_grade,"
                  "handling_code,summary")
ACTIVITIES_HEADER = ("activity_id,activity_type,started_at,ended_at,place_id,latitude,"
                     "longitude,postcode,agency,outcome,jag_ref")
CODEPOINT = '"TS18 1AA",10,444300,518900,"E92000001","E19000001","E18000001","","E06000004","E05014882"\n'


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def count(store, table: sa.Table) -> int:
    with store.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def rows_of(store, table: sa.Table) -> list[dict]:
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]


@pytest.fixture
def bad_places(tmp_path: Path) -> Path:
    return write(
        tmp_path / "places.csv", PLACES_HEADER,
        "P1,Synthetic takeaway 1,takeaway,1 Demo St,,54.5705,-1.3183,3,cse;cce,Police,2025-01-01,2025-06-01,note",
        "P2,Swapped coordinates,shop,,,-1.3183,54.5705,2,,,,,",
        "P3,Unknown level,takeaway,,,54.57,-1.31,7,,,,,",
        "P4,Unknown category,spaceport,,,54.57,-1.31,2,,,,,",
        "P5,Bad date,shop,,,54.57,-1.31,2,,,31/31/2025,,",
        "P6,Unknown postcode,shop,,ZZ99 9ZZ,,,2,,,,,",
        "P7,Bad type,shop,,,54.57,-1.31,2,cse;gardening,,,,",
        ",No id,shop,,,54.57,-1.31,2,,,,,",
        "P8,Synthetic park 2,park_open_space,,,54.58,-1.32,1,,,,,",
        "P9,Grid metres,shop,,,448907,520333,2,,,,,",
        "P8,Duplicate of P8,shop,,,54.58,-1.32,2,,,,,",
        "P10,Review before assessment,shop,,,54.57,-1.31,2,,,2025-05-01,2025-01-01,",
    )


def test_bad_rows_get_one_clear_message_each_and_good_rows_import(store, bad_places):
    result = import_file(store, "places", bad_places)
    assert (result.read, result.inserted, result.rejected) == (12, 2, 10)
    assert result.exit_code == 2
    by_row = {int(m.split(":")[0].split()[1]): m for m in result.messages}
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9, 11, 12, 13]
    assert "latitude" in by_row[3] and "swapped" in by_row[3]
    assert "mace_level '7'" in by_row[4] and "1-4" in by_row[4]
    assert "category 'spaceport'" in by_row[5] and "takeaway" in by_row[5]
    assert "assessed_on '31/31/2025'" in by_row[6]
    assert "postcode 'ZZ99 9ZZ'" in by_row[7] and "placerisk postcodes load" in by_row[7]
    assert "gardening" in by_row[8]
    assert "place_id: required" in by_row[9]
    assert "British National Grid" in by_row[11]
    assert "appears again (first at row 10)" in by_row[12]
    assert "review due before" in by_row[13]


def test_rejects_file_keeps_every_bad_row_with_its_reason(store, bad_places):
    result = import_file(store, "places", bad_places)
    assert result.rejects_path == bad_places.with_name("places.rejects.csv")
    with open(result.rejects_path, newline="", encoding="utf-8") as f:
        rejected = list(csv.DictReader(f))
    assert len(rejected) == 10
    assert list(rejected[0])[:3] == ["row", "reason", "place_id"]
    assert rejected[0]["name"] == "Swapped coordinates" and "swapped" in rejected[0]["reason"]
    assert "status" not in rejected[0]  # only the file's own columns come back


def test_reimporting_the_same_file_changes_nothing(store, bad_places):
    import_file(store, "places", bad_places)
    before = rows_of(store, schema.places)
    again = import_file(store, "places", bad_places)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert rows_of(store, schema.places) == before
    assert count(store, schema.place_levels) == 2


def test_level_change_is_kept_in_history(store, tmp_path):
    first = write(tmp_path / "a.csv", PLACES_HEADER + ",level_reason",
                  "P1,Synthetic shop,shop,,,54.57,-1.31,2,,,2025-01-01,,,")
    second = write(tmp_path / "b.csv", PLACES_HEADER + ",level_reason",
                   "P1,Synthetic shop,shop,,,54.57,-1.31,4,,,2025-03-01,,,JAG intelligence")
    import_file(store, "places", first)
    result = import_file(store, "places", second)
    assert result.updated == 1
    history = rows_of(store, schema.place_levels)
    assert [(h["from_level"], h["to_level"]) for h in history] == [(None, 2), (2, 4)]
    assert history[1]["reason"] == "JAG intelligence"
    assert str(history[1]["changed_on"]) == "2025-03-01"


def test_rows_located_by_postcode_or_by_place(store, tmp_path):
    import_postcodes(store, write(tmp_path / "cp.csv", CODEPOINT.strip()))
    import_file(store, "places", write(tmp_path / "p.csv", PLACES_HEADER,
                                       "P1,Synthetic shop,shop,,ts181aa,,,3,,,,,"))
    result = import_file(store, "reports", write(
        tmp_path / "r.csv", REPORTS_HEADER,
        "R1,2025-01-05,P1,,,,3,cce,Police,false,,,,",
        "R2,2025-01-06,,,,TS18 1AA,2,cse,Council,no,2,B,P,",
        "R3,2025-01-07,P404,,,,2,,,,,,,",
        "R4,2025-01-08,,,,,2,,,,,,,",
    ))
    assert (result.inserted, result.rejected) == (2, 2)
    assert any("unknown place_id" in m for m in result.messages)
    assert any("no location" in m for m in result.messages)
    reports = rows_of(store, schema.reports)
    assert [r["located_by"] for r in reports] == ["place", "postcode"]
    place = rows_of(store, schema.places)[0]
    assert place["postcode"] == "TS18 1AA"
    assert reports[0]["lat"] == place["lat"] and reports[0]["h3_cell"] == place["h3_cell"]
    assert reports[0]["place_id"] == place["id"]


def test_activities_end_before_start_is_rejected(store, tmp_path):
    result = import_file(store, "activities", write(
        tmp_path / "a.csv", ACTIVITIES_HEADER,
        "A1,licensing_visit,2025-02-01T18:00,2025-02-01T19:00,,54.57,-1.31,,Licensing,Advice given,JAG-1",
        "A2,premises_closure,2025-02-02T10:00,2025-02-01T10:00,,54.57,-1.31,,Police,,",
        "A3,carnival,2025-02-02,,,54.57,-1.31,,,,",
    ))
    assert (result.inserted, result.rejected) == (1, 2)
    assert any("ends before it starts" in m for m in result.messages)
    assert any("activity_type 'carnival'" in m for m in result.messages)


def test_unknown_columns_are_ignored_with_a_warning(store, tmp_path):
    path = write(tmp_path / "p.csv", PLACES_HEADER.upper() + ",Colour",
                 "P1,Synthetic shop,shop,,,54.57,-1.31,2,,,,,,red")
    result = import_file(store, "places", path)
    assert result.inserted == 1
    assert result.warnings and "colour" in result.warnings[0]


@pytest.mark.parametrize("content", ["name,colour\nx,red\n", "\x00\xff\xfe garbage"])
def test_wrong_format_is_an_error_and_writes_nothing(store, tmp_path, content):
    path = tmp_path / "places.csv"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(ImportFileError):
        import_file(store, "places", path)
    assert count(store, schema.places) == 0
    assert count(store, schema.imports) == 0


def test_all_rows_bad_exits_1(store, tmp_path):
    result = import_file(store, "places", write(tmp_path / "p.csv", PLACES_HEADER,
                                                "P1,,shop,,,54.57,-1.31,9,,,,,"))
    assert result.exit_code == 1


def test_a_failure_midway_leaves_nothing_half_written(store, tmp_path, monkeypatch):
    rows = [f"P{i},Synthetic shop {i},shop,,,54.57,-1.31,2,,,,," for i in range(30)]
    rows.append("PX,,shop,,,54.57,-1.31,2,,,,,")
    path = write(tmp_path / "p.csv", PLACES_HEADER, *rows)
    calls = {"n": 0}
    real = loader.plan_upsert

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "plan_upsert", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(store, "places", path, chunk_rows=10)
    assert count(store, schema.places) == 0
    assert not list(tmp_path.glob("*.rejects.csv*"))


def test_places_from_geojson(store, tmp_path):
    frame = gpd.GeoDataFrame(
        {"place_id": ["G1"], "name": ["Synthetic bus station"], "category": ["transport_hub"],
         "mace_level": [3]},
        geometry=[shapely.Point(-1.31, 54.57)], crs="EPSG:4326").to_crs("EPSG:27700")
    path = tmp_path / "places.geojson"
    frame.to_file(path, driver="GeoJSON")
    result = import_file(store, "places", path)
    assert result.inserted == 1, result.messages
    place = rows_of(store, schema.places)[0]
    assert place["lat"] == pytest.approx(54.57) and place["lng"] == pytest.approx(-1.31)


def test_points_outside_every_boundary_are_kept_and_flagged(store, tmp_path):
    areas = gpd.GeoDataFrame(
        {"code": ["W1"], "name": ["Ward one"], "authority_code": ["E06000004"],
         "authority_name": ["Stockton-on-Tees"], "vintage": ["2024"]},
        geometry=[shapely.box(-1.35, 54.55, -1.30, 54.60)], crs="EPSG:4326")
    replace_areas(store, areas, source="test")
    result = import_file(store, "places", write(
        tmp_path / "p.csv", PLACES_HEADER,
        "P1,Inside,shop,,,54.57,-1.32,2,,,,,", "P2,Outside,shop,,,54.70,-1.20,2,,,,,"))
    assert (result.inserted, result.outside) == (2, 1)
    places = {p["source_id"]: p for p in rows_of(store, schema.places)}
    assert places["P1"]["ward_code"] == "W1" and not places["P1"]["outside_areas"]
    assert places["P2"]["ward_code"] is None and places["P2"]["outside_areas"]
    assert places["P2"]["h3_cell"] is not None


def test_police_uk_keeps_identical_asb_rows_and_reimport_adds_none(store, shared_data):
    path = shared_data / "police_uk" / "2024-01-cleveland-street.csv"
    published = pd.read_csv(path, dtype=str, keep_default_na=False)
    first = import_police_uk(store, path)
    assert (first.read, first.inserted, first.rejected) == (len(published), len(published), 0)
    assert count(store, schema.incidents) == len(published)
    again = import_police_uk(store, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(published))


def test_police_uk_keys_do_not_depend_on_chunking(sqlite_store, shared_data, tmp_path):
    path = shared_data / "police_uk" / "2024-02-cleveland-street.csv"
    import_police_uk(sqlite_store, path, chunk_rows=997)
    with sqlite_store.connect() as conn:
        chunked = set(conn.scalars(sa.select(schema.incidents.c.incident_key)))
    again = import_police_uk(sqlite_store, path)
    assert again.inserted == 0
    published = pd.read_csv(path, dtype=str, keep_default_na=False)
    asb = published[published["Crime ID"] == ""]
    assert asb.duplicated().sum() > 0  # the file really has identical rows
    assert sum(k.startswith("nocid:") for k in chunked) == len(asb)


def test_police_uk_wrong_file_is_refused(store, tmp_path):
    path = write(tmp_path / "x.csv", PLACES_HEADER, "P1,x,shop,,,54.57,-1.31,2,,,,,")
    with pytest.raises(ValueError, match="not a police.uk street-level crime file"):
        import_police_uk(store, path)


def test_the_rejects_file_is_defused_and_its_fix_imports_the_meant_values(store, tmp_path):
    """Regression: a rejected cell such as =HYPERLINK(...) went to the rejects file as it was,
    for a spreadsheet to run (issue 11, item 13)."""
    formula = '=HYPERLINK("http://evil.example","click")'
    source = tmp_path / "places.csv"
    with open(source, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PLACES_HEADER.split(","))
        writer.writerow(["F1", formula, "shop", "'=already defused", "", "54.57", "-1.31", "9",
                         "", "", "", "", "@SUM(1)"])
    result = import_file(store, "places", source)
    assert result.rejected == 1
    with open(result.rejects_path, newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["name"] == "'" + formula and row["notes"] == "'@SUM(1)"
    assert row["address"] == "'=already defused"  # read as "=already defused", written defused
    assert not any(v.startswith(("=", "+", "@")) for v in row.values())
    fixed = tmp_path / "fixed.csv"
    with open(fixed, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        columns = [c for c in row if c not in ("row", "reason")]
        writer.writerow(columns)
        writer.writerow([row[c] if c != "mace_level" else "3" for c in columns])
    assert import_file(store, "places", fixed).rejected == 0
    (stored,) = [r for r in rows_of(store, schema.places) if r["source_id"] == "F1"]
    assert (stored["name"], stored["address"], stored["notes"]) == (
        formula, "=already defused", "@SUM(1)")
