"""Imported text is refused, never cut: NUL and other control characters, and text longer
than its column takes, get a row message; good rows still import (issue 11, item 16).

The limits come from the schema (`layers.store.schema.max_chars`), so these tests read them there
too. PostgreSQL refuses NUL in text: the rows holding one must never reach it.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from layers.records.importer import KINDS, import_file, import_police_uk, import_postcodes
from layers.store import schema

NUL = "\x00"
CONTROL = "only tab and line breaks allowed"
BASE = {
    "places": {"place_id": "X{i}", "name": "Synthetic place", "category": "shop",
               "latitude": "54.57", "longitude": "-1.31", "mace_level": "2"},
    "reports": {"report_id": "X{i}", "reported_on": "2025-01-02", "latitude": "54.57",
                "longitude": "-1.31", "mace_level": "2"},
    "activities": {"activity_id": "X{i}", "activity_type": "street_patrol",
                   "started_at": "2025-01-02T21:00", "latitude": "54.57",
                   "longitude": "-1.31"},
}
# Every text cell the own-format imports store as it comes: (kind, file column, store column)
TEXT_CELLS = [
    ("places", "place_id", schema.places.c.source_id),
    ("places", "name", schema.places.c.name),
    ("places", "address", schema.places.c.address),
    ("places", "source_agency", schema.places.c.source_agency),
    ("places", "notes", schema.places.c.notes),
    ("places", "level_reason", schema.place_levels.c.reason),
    ("reports", "report_id", schema.reports.c.source_id),
    ("reports", "source_agency", schema.reports.c.source_agency),
    ("reports", "summary", schema.reports.c.summary),
    ("activities", "activity_id", schema.activities.c.source_id),
    ("activities", "agency", schema.activities.c.agency),
    ("activities", "outcome", schema.activities.c.outcome),
    ("activities", "jag_ref", schema.activities.c.jag_ref),
]
# Stored text that is not free: a vocabulary word, a postcode, or worked out by placerisk.
CHECKED_OTHERWISE = {"category", "status", "exploitation_types", "exploitation_type",
                     "intel_grade", "handling_code", "activity_type", "postcode",
                     "located_by", "h3_cell", "ward_code"}


def write_rows(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def stored(store, column: sa.Column) -> list:
    with store.connect() as conn:
        return list(conn.scalars(sa.select(column)))


def test_every_stored_text_cell_is_checked() -> None:
    """A text column added to an import must be added here (and so be checked)."""
    covered = {(kind, column.name) for kind, _, column in TEXT_CELLS
               if column.table is KINDS[kind].table}
    texts = {(name, column) for name, kind in KINDS.items()
             for column in (kind.key, *kind.stored)
             if isinstance(kind.table.c[column].type, sa.String)
             and column not in CHECKED_OTHERWISE}
    assert texts == covered


@pytest.mark.parametrize(("kind", "cell", "column"), TEXT_CELLS,
                         ids=[f"{k}-{c}" for k, c, _ in TEXT_CELLS])
def test_text_too_long_or_holding_nul_is_refused_with_its_row(store, tmp_path, kind, cell,
                                                               column) -> None:
    """Regression: text was cut at the column's length, and a NUL reached the database
    (PostgreSQL then failed the whole import)."""
    limit = schema.max_chars(column)
    values = ["a" * limit, "b" * (limit + 1), "c" + NUL + "d", "e\tf\ng\r\nh"]
    rows = []
    for i, value in enumerate(values):
        row = {k: v.format(i=i) for k, v in BASE[kind].items()}
        row[cell] = value
        rows.append(row)
    result = import_file(store, kind, write_rows(tmp_path / f"{kind}.csv", rows))
    assert (result.read, result.inserted, result.rejected) == (4, 2, 2)
    assert result.messages == [
        f"row 3: {cell}: {limit + 1:,} characters; at most {limit:,}",
        f"row 4: {cell}: control character U+0000 (NUL) at character 2; {CONTROL}",
    ]
    kept = stored(store, column)
    assert "a" * limit in kept  # stored whole, not cut
    assert "e\tf\ng\r\nh" in kept  # tab and line breaks are kept
    assert not any(NUL in str(v) for v in kept)


@pytest.mark.parametrize("char", ["\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",
                                  "\x85", "\x9f"])
def test_control_characters_other_than_tab_and_line_breaks_are_refused(store, tmp_path,
                                                                      char) -> None:
    rows = [{**{k: v.format(i=1) for k, v in BASE["places"].items()},
             "notes": f"  seen at {char}the back"}]
    result = import_file(store, "places", write_rows(tmp_path / "places.csv", rows))
    assert result.rejected == 1
    # the position counts the cell as written, its leading spaces included
    assert f"notes: control character U+{ord(char):04X}" in result.messages[0]
    assert "at character 11;" in result.messages[0]


def test_police_uk_rows_with_bad_text_are_rejected_and_the_rest_import(store, shared_data,
                                                                       tmp_path) -> None:
    """Real police.uk rows with crafted cells: the bad rows go to the rejects file."""
    published = pd.read_csv(shared_data / "police_uk" / "2024-01-cleveland-street.csv",
                            dtype=str, keep_default_na=False).head(300)
    location = schema.max_chars(schema.incidents.c.location)
    context = schema.max_chars(schema.incidents.c.context)
    crafted = published.copy()
    crafted.loc[3, "Location"] = "On or near " + NUL + "Fillpoke Lane"
    crafted.loc[5, "Context"] = "c" * (context + 412)
    crafted.loc[7, "LSOA name"] = "Hartlepool\x1b001A"
    crafted.loc[9, "Context"] = "two lines:\r\nand\ta tab"
    crafted.loc[11, "Location"] = "L" * location
    crafted.loc[13, "Context"] = "k" * context
    crafted.loc[15, "Crime type"] = "x" * 101
    path = tmp_path / "2024-01-cleveland-street.csv"
    crafted.to_csv(path, index=False)
    result = import_police_uk(store, path)
    assert (result.read, result.inserted, result.rejected) == (300, 296, 4)
    assert result.messages == [
        f"row 5: Location: control character U+0000 (NUL) at character 12; {CONTROL}",
        f"row 7: Context: {context + 412:,} characters; at most {context:,}",
        f"row 9: LSOA name: control character U+001B (escape) at character 11; {CONTROL}",
        "row 17: Crime type: 101 characters; at most 100",
    ]
    with open(result.rejects_path, newline="", encoding="utf-8") as f:
        rejects = list(csv.DictReader(f))
    assert [r["row"] for r in rejects] == ["5", "7", "9", "17"]
    assert rejects[1]["reason"] == f"Context: {context + 412:,} characters; at most {context:,}"
    assert rejects[0]["Location"] == crafted.loc[3, "Location"]  # the value as it came
    texts = stored(store, schema.incidents.c.context) + stored(store,
                                                               schema.incidents.c.location)
    assert "k" * context in texts and "L" * location in texts  # whole, not cut
    assert "two lines:\r\nand\ta tab" in texts
    assert not any(NUL in str(v) for v in texts)


def test_postcode_codes_too_long_are_refused(store, tmp_path) -> None:
    limit = schema.max_chars(schema.postcodes.c.district_code)
    good = '"TS18 1AA",10,444300,518900,"E92000001","","","","E06000004","E05014882"'
    long = f'"TS18 1AB",10,444310,518910,"E92000001","","","","{"E" * (limit + 1)}","E05014882"'
    nul = '"TS18 1AD",10,444320,518920,"E92000001","","","","E06000004","E05\x00"'
    path = tmp_path / "codepoint.csv"
    path.write_text("\n".join([good, long, nul]) + "\n", encoding="utf-8")
    result = import_postcodes(store, path)
    assert (result.inserted, result.rejected) == (1, 2)
    assert result.messages == [
        f"row 2: district_code: {limit + 1} characters; at most {limit}",
        f"row 3: ward_code: control character U+0000 (NUL) at character 4; {CONTROL}",
    ]


def _points(names: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"place_id": [f"G{i}" for i in range(len(names))], "name": names,
         "category": "shop", "mace_level": 2},
        geometry=[shapely.Point(-1.31, 54.57)] * len(names), crs="EPSG:4326")


def test_geojson_text_cut_by_gdal_at_a_nul_is_refused(store, tmp_path) -> None:
    """Regression: GDAL ends a string at NUL, so "Ab\\u0000cd" was stored as "Ab"."""
    doc = json.loads(_points(["Whole name", "Ab" + NUL + "cd"]).to_json())
    path = tmp_path / "places.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert "\\u0000" in path.read_text(encoding="utf-8")
    result = import_file(store, "places", path)
    assert (result.inserted, result.rejected) == (1, 1)
    assert result.messages == [f"row 2: name: control character U+0000 (NUL) at character 3; "
                               f"{CONTROL}"]
    assert stored(store, schema.places.c.name) == ["Whole name"]


def test_geopackage_text_cut_by_gdal_at_a_nul_is_refused(store, tmp_path) -> None:
    path = tmp_path / "places.gpkg"
    _points(["First", "Second", "Third"]).to_file(path, layer="places", driver="GPKG")
    with closing(sqlite3.connect(path)) as conn:  # GDAL cannot write a NUL: put one in
        for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
            conn.execute(f'DROP TRIGGER "{trigger}"')  # the R-tree's need SpatiaLite
        conn.execute("UPDATE places SET name = 'Sec' || char(0) || 'ond' WHERE place_id='G1'")
        conn.commit()
    result = import_file(store, "places", path)
    assert (result.inserted, result.rejected) == (2, 1)
    assert result.messages == [f"row 2: name: control character U+0000 (NUL) at character 4; "
                               f"{CONTROL}"]
    assert sorted(stored(store, schema.places.c.name)) == ["First", "Third"]
