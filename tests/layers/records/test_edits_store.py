"""Places recorded and changed by named people (layers.records.edits_store), on both back ends."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from layers.errors import NotFoundError
from layers.records import edits_store as edits
from layers.records.edits_store import Actor, FieldErrors, VersionConflict
from layers.store import audit, schema
from layers.store.engine import Store, replace_areas
from tests.api.conftest import make_areas

ANA = Actor("ana", "analyst", "10.0.0.9")
LATE = dt.date(2100, 1, 1)  # after anything a test stores: no test follows the calendar
BEN = Actor("ben", "analyst")
PLACE = {"name": "Chicken Hut", "category": "takeaway", "latitude": 54.57,
         "longitude": -1.32, "mace_level": 3, "exploitation_types": "cce",
         "notes": "seen late", "level_reason": "two reports in a week"}


@pytest.fixture
def wards(store: Store) -> Store:
    replace_areas(store, make_areas(), source="test")
    return store


def _place(store: Store, source_id: str) -> dict:
    t = schema.places
    with store.connect() as conn:
        return dict(conn.execute(sa.select(t).where(t.c.source_id == source_id))
                    .mappings().one())


def test_create_stores_version_1_with_its_cell_ward_level_and_change(wards: Store) -> None:
    made = edits.create_place(wards, {**PLACE, "place_id": "P-NEW"}, actor=ANA)
    assert made["version"] == 1 and made["source_id"] == "P-NEW"
    row = _place(wards, "P-NEW")
    assert row["ward_code"] is not None and row["h3_cell"] and row["status"] == "open"
    assert (row["mace_level"], row["exploitation_types"], row["notes"]) == (3, "cce", "seen late")
    with wards.connect() as conn:
        levels = conn.execute(sa.select(schema.place_levels)).mappings().all()
        log = audit.query(conn)
        history = edits.history(conn, "P-NEW")
    assert [(lv["from_level"], lv["to_level"], lv["reason"], lv["decided_by"])
            for lv in levels] == [(None, 3, "two reports in a week", "ana")]
    assert [h["action"] for h in history] == ["create"] and history[0]["changed_by"] == "ana"
    assert history[0]["after"]["name"] == "Chicken Hut"
    assert log["action"].tolist()[-1] == "edit" and "seen late" not in log["detail"].iloc[-1]


def test_create_makes_an_id_and_refuses_bad_values_field_by_field(wards: Store) -> None:
    made = edits.create_place(wards, {k: v for k, v in PLACE.items()}, actor=ANA)
    assert made["source_id"].startswith("PL-")
    with pytest.raises(FieldErrors) as caught:
        edits.create_place(wards, {**PLACE, "mace_level": 7, "category": "castle"}, actor=ANA)
    fields = {p.field for p in caught.value.problems}
    assert fields == {"mace_level", "category"}
    assert any("castle" == p.value for p in caught.value.problems)
    with pytest.raises(FieldErrors, match="location: no location"):
        edits.create_place(wards, {k: v for k, v in PLACE.items()
                                   if k not in ("latitude", "longitude")}, actor=ANA)
    with pytest.raises(FieldErrors, match="not a field of a place"):
        edits.create_place(wards, {**PLACE, "colour": "red"}, actor=ANA)
    with pytest.raises(FieldErrors, match="already used"):
        edits.create_place(wards, {**PLACE, "place_id": made["source_id"]}, actor=ANA)


def test_create_outside_the_writers_authorities_is_refused(wards: Store) -> None:
    with pytest.raises(FieldErrors, match="outside the authorities you may see"):
        edits.create_place(wards, PLACE, actor=ANA, scope=frozenset({"E06000001"}))
    assert edits.create_place(wards, PLACE, actor=ANA, scope=frozenset({"E06000004"}))


def test_update_changes_only_the_fields_given_and_keeps_the_before(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    out = edits.update_place(wards, "P1", {"name": "Chicken Palace"}, version=1, actor=BEN,
                             reason="renamed")
    assert out["version"] == 2
    assert out["changed"] == {"name": {"before": "Chicken Hut", "after": "Chicken Palace"}}
    row = _place(wards, "P1")
    assert (row["name"], row["notes"], row["mace_level"], row["version"]) == (
        "Chicken Palace", "seen late", 3, 2)
    with wards.connect() as conn:
        history = edits.history(conn, "P1")
    assert [(h["version"], h["action"], h["changed_by"], h["reason"]) for h in history] == [
        (1, "create", "ana", None), (2, "update", "ben", "renamed")]
    assert history[1]["before"] == {"name": "Chicken Hut"}


def test_the_same_values_change_nothing_and_blank_clears(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    same = edits.update_place(wards, "P1", {"name": "Chicken Hut", "latitude": 54.57},
                              version=1, actor=BEN)
    assert same == {"source_id": "P1", "version": 1, "changed": {}}
    cleared = edits.update_place(wards, "P1", {"notes": ""}, version=1, actor=BEN)
    assert cleared["changed"]["notes"] == {"before": "seen late", "after": None}
    assert _place(wards, "P1")["notes"] is None


def test_moving_a_place_moves_its_cell(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    before = _place(wards, "P1")["h3_cell"]
    out = edits.update_place(wards, "P1", {"latitude": 54.59, "longitude": -1.34}, version=1,
                             actor=BEN)
    assert set(out["changed"]) >= {"lat", "lng", "h3_cell"}
    assert _place(wards, "P1")["h3_cell"] != before


def test_a_second_edit_of_the_same_version_is_a_conflict_and_loses_nothing(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    edits.update_place(wards, "P1", {"name": "First"}, version=1, actor=ANA)
    with pytest.raises(VersionConflict, match="now version 2.*reload it"):
        edits.update_place(wards, "P1", {"notes": "second"}, version=1, actor=BEN)
    row = _place(wards, "P1")
    assert (row["name"], row["notes"], row["version"]) == ("First", "seen late", 2)


def test_level_and_status_are_not_edited_as_fields(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    for field in ("mace_level", "status", "place_id"):
        with pytest.raises(FieldErrors, match="not a field of a place"):
            edits.update_place(wards, "P1", {field: "1"}, version=1, actor=BEN)


def test_a_level_decision_needs_a_reason_and_records_who_and_where(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    with pytest.raises(FieldErrors, match="reason: say why"):
        edits.decide_level(wards, "P1", level=4, reason=" ", version=1, actor=BEN)
    with pytest.raises(FieldErrors, match="already"):
        edits.decide_level(wards, "P1", level=3, reason="x", version=1, actor=BEN)
    day = dt.date(2025, 6, 2)
    out = edits.decide_level(wards, "P1", level=4, reason="county lines seen", version=1,
                             actor=BEN, decided_on=day, decision_ref="MACE 2025-06-02")
    assert (out["from_level"], out["to_level"], out["version"]) == (3, 4, 2)
    with wards.connect() as conn:
        last = conn.execute(sa.select(schema.place_levels).order_by(
            schema.place_levels.c.id.desc()).limit(1)).mappings().one()
    assert (last["changed_on"], last["decided_by"], last["decision_ref"], last["reason"]) == (
        day, "ben", "MACE 2025-06-02", "county lines seen")
    assert _place(wards, "P1")["mace_level"] == 4


def test_close_and_unknown_or_unseen_places(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    assert edits.close_place(wards, "P1", reason="demolished", version=1,
                             actor=BEN)["status"] == "closed"
    with pytest.raises(FieldErrors, match="closed already"):
        edits.close_place(wards, "P1", reason="again", version=2, actor=BEN)
    with pytest.raises(NotFoundError):
        edits.update_place(wards, "NOPE", {"name": "x"}, version=1, actor=BEN)
    with pytest.raises(NotFoundError):
        edits.update_place(wards, "P1", {"name": "x"}, version=2, actor=BEN,
                           scope=frozenset({"E06000001"}))


def test_as_known_at_puts_back_the_values_before_later_changes(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    with wards.connect() as conn:
        cut = conn.scalar(sa.select(schema.places.c.updated_at))
    edits.update_place(wards, "P1", {"name": "Later"}, version=1, actor=BEN)
    edits.decide_level(wards, "P1", level=1, reason="closed down", version=2, actor=BEN)
    edits.update_place(wards, "P1", {"name": "Latest"}, version=3, actor=BEN)
    t = schema.places
    with wards.connect() as conn:
        now = pd.DataFrame(conn.execute(sa.select(t.c.id, t.c.name, t.c.mace_level)).all(),
                           columns=["id", "name", "mace_level"])
        then = edits.as_known_at(conn, t, now, cut)
        middle_cut = conn.scalar(sa.select(schema.record_changes.c.changed_at).where(
            schema.record_changes.c.version == 2))
        middle = edits.as_known_at(conn, t, now, middle_cut)
    assert then[["name", "mace_level"]].values.tolist() == [["Chicken Hut", 3]]
    assert middle[["name", "mace_level"]].values.tolist() == [["Later", 3]]
    assert now[["name", "mace_level"]].values.tolist() == [["Latest", 1]]


def test_a_changes_values_are_json_of_the_changed_columns(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1", "review_due": "2026-01-31"},
                       actor=ANA)
    edits.update_place(wards, "P1", {"review_due": "2026-02-28"}, version=1, actor=BEN)
    with wards.connect() as conn:
        text = conn.scalar(sa.select(schema.record_changes.c.after_json).where(
            schema.record_changes.c.version == 2))
    assert json.loads(text) == {"review_due": "2026-02-28"}


def test_purging_an_erased_place_deletes_its_versions_too(wards: Store) -> None:
    from layers.access import review_store

    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    edits.update_place(wards, "P1", {"notes": "more"}, version=1, actor=BEN)
    edits.close_place(wards, "P1", reason="gone", version=2, actor=BEN)
    review_store.erase(wards, "P1", user="ana")
    with wards.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.record_changes)) == 3
    review_store.purge(wards, older_than_days=0, apply=True, user="ana",
                       now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    with wards.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.record_changes)) == 0


def test_a_run_reproduced_as_of_before_a_move_scores_the_place_where_it_was(wards: Store) -> None:
    from layers.hotspots.inputs import load_score_inputs

    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    with wards.connect() as conn:
        cut = conn.scalar(sa.select(schema.places.c.updated_at))
        before = load_score_inputs(conn, as_of=LATE, known_by=cut).places
    edits.update_place(wards, "P1", {"latitude": 54.59, "longitude": -1.34}, version=1,
                       actor=BEN)
    with wards.connect() as conn:
        then = load_score_inputs(conn, as_of=LATE, known_by=cut).places
        now = load_score_inputs(conn, as_of=LATE).places
    assert then["h3_cell"].tolist() == before["h3_cell"].tolist()
    assert then["key"].tolist() == before["key"].tolist()
    assert now["h3_cell"].tolist() != before["h3_cell"].tolist()


REPORT = {"reported_on": "2025-06-01", "mace_level": 3, "exploitation_type": "cce",
          "source_agency": "Youth service", "summary": "seen with older males"}


def test_a_report_at_a_place_stands_where_the_place_does(wards: Store) -> None:
    edits.create_place(wards, {**PLACE, "place_id": "P1"}, actor=ANA)
    made = edits.create_report(wards, {**REPORT, "place_id": "P1", "report_id": "R-NEW",
                                       "source_grade": 2, "intel_grade": "b"}, actor=BEN)
    assert made["version"] == 1 and made["located_by"] == "place"
    t = schema.reports
    with wards.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.source_id == "R-NEW")).mappings().one()
        change = conn.execute(sa.select(schema.record_changes).where(
            schema.record_changes.c.table_name == "reports")).mappings().one()
    place = _place(wards, "P1")
    assert (row["h3_cell"], row["ward_code"], row["place_id"]) == (
        place["h3_cell"], place["ward_code"], place["id"])
    assert (row["patrol_discovered"], row["intel_grade"], row["source_grade"]) == (False, "B", 2)
    assert (change["changed_by"], change["action"], change["version"]) == ("ben", "create", 1)


def test_a_report_is_refused_as_the_import_refuses_it(wards: Store) -> None:
    with pytest.raises(FieldErrors) as caught:
        edits.create_report(wards, {**REPORT, "mace_level": 0, "intel_grade": "Z",
                                    "latitude": 54.57, "longitude": -1.32}, actor=BEN)
    assert {p.field for p in caught.value.problems} == {"mace_level", "intel_grade"}
    with pytest.raises(FieldErrors, match="is in the future"):
        edits.create_report(wards, {**REPORT, "reported_on": "2025-06-02", "latitude": 54.57,
                                    "longitude": -1.32}, actor=BEN, today=dt.date(2025, 6, 1))
    with pytest.raises(FieldErrors, match="place_id 'NOPE': no such place"):
        edits.create_report(wards, {**REPORT, "place_id": "NOPE"}, actor=BEN)
    with pytest.raises(FieldErrors, match="no location"):
        edits.create_report(wards, REPORT, actor=BEN)
    made = edits.create_report(wards, {**REPORT, "latitude": 54.57, "longitude": -1.32,
                                       "patrol_discovered": "yes"}, actor=BEN)
    assert made["patrol_discovered"] is True and made["source_id"].startswith("RP-")


def test_a_date_iso_8601_reads_as_a_negative_year_is_refused_not_a_crash(wards: Store) -> None:
    with pytest.raises(FieldErrors, match="assessed_on '-1': cannot read"):
        edits.create_place(wards, {**PLACE, "assessed_on": "-1"}, actor=ANA)
