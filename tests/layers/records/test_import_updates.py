"""Updates by import change only what the file gives: an absent column leaves the stored value
alone, an empty cell clears it only where the README's "CSV formats" section says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from layers.records.importer import import_file
from layers.store import schema
from layers.store.engine import Store, replace_areas
from tests.api.conftest import _write as write
from tests.api.conftest import make_areas

PLACE = {
    "place_id": "P1", "name": "Synthetic takeaway", "category": "takeaway",
    "address": "1 Demo Street, Stockton", "postcode": "TS18 1AA", "latitude": "54.57",
    "longitude": "-1.34", "mace_level": "3", "exploitation_types": "cce;cse",
    "source_agency": "Police", "assessed_on": "2025-01-10", "review_due": "2025-07-10",
    "status": "closed", "notes": "synthetic note to keep",
}
OUTSIDE = {**PLACE, "place_id": "P2", "name": "Synthetic cafe outside", "latitude": "54.605",
           "longitude": "-1.32", "postcode": "", "status": "monitoring"}
REPORT = {
    "report_id": "R1", "reported_on": "2025-02-01", "place_id": "P1", "latitude": "",
    "longitude": "", "postcode": "", "mace_level": "3", "exploitation_type": "cce",
    "source_agency": "Council", "patrol_discovered": "true", "source_grade": "2",
    "intel_grade": "B", "handling_code": "P", "summary": "synthetic summary to keep",
}
ACTIVITY = {
    "activity_id": "A1", "activity_type": "licensing_visit", "started_at": "2025-02-03T10:00",
    "ended_at": "2025-02-03T11:30", "place_id": "P1", "latitude": "", "longitude": "",
    "postcode": "", "agency": "Council licensing", "outcome": "synthetic outcome to keep",
    "jag_ref": "JAG-7",
}
PLACE_KEPT = ("address", "postcode", "lat", "lng", "h3_cell", "ward_code", "outside_areas",
              "exploitation_types", "source_agency", "assessed_on", "review_due", "status",
              "notes")


def stored(store: Store, table: sa.Table) -> dict[str, dict]:
    with store.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    return {r["source_id"]: dict(r) for r in rows}


def only(row: dict[str, str], *columns: str) -> dict[str, str]:
    return {c: row[c] for c in columns}


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    """Two places (one inside a ward, one outside every ward), a report and an activity."""
    replace_areas(store, make_areas(), source="test")
    for kind, rows in (("places", [PLACE, OUTSIDE]), ("reports", [REPORT]),
                       ("activities", [ACTIVITY])):
        result = import_file(store, kind, write(tmp_path / f"{kind}.csv", rows))
        assert result.rejected == 0, result.messages
    return store


def test_place_update_without_optional_columns_keeps_them(loaded, tmp_path):
    before = stored(loaded, schema.places)
    assert before["P1"]["ward_code"] == "E05000001" and before["P2"]["outside_areas"]
    rows = [only({**PLACE, "name": "Synthetic takeaway renamed"},
                 "place_id", "name", "category", "mace_level"),
            only(OUTSIDE, "place_id", "name", "category", "mace_level")]
    result = import_file(loaded, "places", write(tmp_path / "names.csv", rows))
    assert (result.updated, result.unchanged, result.rejected) == (1, 1, 0)
    after = stored(loaded, schema.places)
    assert after["P1"]["name"] == "Synthetic takeaway renamed"
    for key in ("P1", "P2"):
        assert {c: after[key][c] for c in PLACE_KEPT} == {c: before[key][c] for c in PLACE_KEPT}
    assert after["P1"]["notes"] == "synthetic note to keep"
    assert after["P1"]["status"] == "closed" and after["P2"]["status"] == "monitoring"


def test_place_update_with_coordinates_only_keeps_postcode_and_moves_the_cell(loaded, tmp_path):
    before = stored(loaded, schema.places)["P1"]
    row = only({**PLACE, "latitude": "54.58", "longitude": "-1.31"},
               "place_id", "name", "category", "latitude", "longitude", "mace_level")
    import_file(loaded, "places", write(tmp_path / "moved.csv", [row]))
    after = stored(loaded, schema.places)["P1"]
    assert (after["lat"], after["lng"], after["ward_code"]) == (54.58, -1.31, "E05000002")
    assert after["h3_cell"] != before["h3_cell"]
    assert after["postcode"] == "TS18 1AA" and after["notes"] == before["notes"]


def test_empty_cells_clear_only_where_the_readme_says(loaded, tmp_path):
    before = stored(loaded, schema.places)["P1"]
    row = {**PLACE, "address": "", "notes": "", "exploitation_types": "", "review_due": "",
           "status": "", "latitude": "", "longitude": "", "postcode": ""}
    result = import_file(loaded, "places", write(tmp_path / "blanks.csv", [row]))
    assert (result.updated, result.rejected) == (1, 0), result.messages
    after = stored(loaded, schema.places)["P1"]
    assert (after["address"], after["notes"], after["exploitation_types"],
            after["review_due"]) == (None, None, None, None)
    assert after["status"] == "closed"  # an empty status keeps the stored one
    located = ("postcode", "lat", "lng", "h3_cell", "ward_code", "outside_areas")
    assert {c: after[c] for c in located} == {c: before[c] for c in located}


def test_a_new_place_still_needs_a_location_and_gets_status_open(loaded, tmp_path):
    rows = [{**PLACE, "place_id": "NEW1", "latitude": "", "longitude": "", "postcode": ""},
            {**PLACE, "place_id": "NEW2", "status": ""}]
    result = import_file(loaded, "places", write(tmp_path / "new.csv", rows))
    assert (result.inserted, result.rejected) == (1, 1)
    assert "row 2: location: no location" in result.messages[0]
    assert stored(loaded, schema.places)["NEW2"]["status"] == "open"


def test_level_changes_are_recorded_by_partial_updates(loaded, tmp_path):
    columns = ("place_id", "name", "category", "mace_level")
    same = write(tmp_path / "same.csv", [only(PLACE, *columns)])
    higher = write(tmp_path / "higher.csv", [only({**PLACE, "mace_level": "4"}, *columns)])
    assert import_file(loaded, "places", same).unchanged == 1
    assert import_file(loaded, "places", higher).updated == 1
    with loaded.connect() as conn:
        levels = conn.execute(sa.select(schema.place_levels.c.from_level,
                                        schema.place_levels.c.to_level)
                              .order_by(schema.place_levels.c.id)).all()
    assert [tuple(r) for r in levels] == [(None, 3), (None, 3), (3, 4)]
    assert stored(loaded, schema.places)["P1"]["notes"] == "synthetic note to keep"


def test_report_update_without_optional_columns_keeps_them(loaded, tmp_path):
    before = stored(loaded, schema.reports)["R1"]
    row = only({**REPORT, "mace_level": "4"}, "report_id", "reported_on", "mace_level")
    result = import_file(loaded, "reports", write(tmp_path / "levels.csv", [row]))
    assert (result.updated, result.rejected) == (1, 0), result.messages
    after = stored(loaded, schema.reports)["R1"]
    assert after["mace_level"] == 4
    kept = {c: before[c] for c in before if c not in ("mace_level", "updated_at")}
    assert {c: after[c] for c in kept} == kept
    assert after["summary"] == "synthetic summary to keep" and after["patrol_discovered"]


def test_report_empty_cells_follow_the_readme(loaded, tmp_path):
    before = stored(loaded, schema.reports)["R1"]
    row = {**REPORT, "patrol_discovered": "", "summary": "", "intel_grade": "", "place_id": ""}
    import_file(loaded, "reports", write(tmp_path / "blanks.csv", [row]))
    after = stored(loaded, schema.reports)["R1"]
    assert after["patrol_discovered"]  # an empty cell keeps the guardrail flag
    assert (after["summary"], after["intel_grade"]) == (None, None)
    located = ("place_id", "postcode", "located_by", "lat", "lng", "h3_cell", "ward_code")
    assert {c: after[c] for c in located} == {c: before[c] for c in located}


def test_activity_update_without_optional_columns_keeps_them(loaded, tmp_path):
    before = stored(loaded, schema.activities)["A1"]
    row = only({**ACTIVITY, "activity_type": "premises_closure"},
               "activity_id", "activity_type", "started_at")
    result = import_file(loaded, "activities", write(tmp_path / "types.csv", [row]))
    assert (result.updated, result.rejected) == (1, 0), result.messages
    after = stored(loaded, schema.activities)["A1"]
    assert after["activity_type"] == "premises_closure"
    kept = {c: before[c] for c in before if c not in ("activity_type", "updated_at")}
    assert {c: after[c] for c in kept} == kept
    assert after["outcome"] == "synthetic outcome to keep" and after["place_id"] is not None
