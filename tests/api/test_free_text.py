"""No free text of the store reaches a police officer or a guardian unless it is allowed.

Every free-text column of every table of `layers.store.schema` (a Text column, or a String longer
than `THRESHOLD` characters: ids, codes and account names are shorter) is either planted or
allowed. Planted columns get a marker of their own in a store built through the import,
review, audit, account and store functions; the walk then calls every route as police and as
a guardian, and no answer may hold any marker (HTML is read as `tests._pages.page_text`
reads it, every other answer raw). `ALLOWED` names the columns those roles may see, each
with the reason. A column added to the schema is neither: the first test fails until it is
planted here or allowed with a reason.

PDFs are compressed and so read raw only; the patrol plan PDF is its HTML page's twin,
which the walk reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.access import accounts_store as accounts
from layers.access import review_store as review
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.records import edits_store as edits
from layers.records.importer import import_file, import_police_uk
from layers.store import audit, schema
from layers.store.engine import open_store, replace_areas
from tests._pages import page_text

from .conftest import (
    ACTIVITIES,
    AS_OF,
    PASSWORD,
    PLACES,
    POLICE_UK,
    REPORTS,
    _write,
    bearer_clients,
    ensure_accounts,
    make_areas,
)
from .test_access import SKIP_POST, _call, routes

THRESHOLD = 64  # a String longer than this may hold prose
_POLICE_UK = "published by police.uk for anyone to read (an area-level context layer)"
ALLOWED = {
    "areas.name": "ward names, published by ONS: every map and ranking names its wards",
    "areas.authority_name": "council names, published by ONS",
    "places.name": "police attend a place by its name (guardians see the names of "
                   "protective places only: test_access.py checks that)",
    "places.address": "where the place is: police attend it",
    "places.exploitation_types": "vocabulary words only (layers.records.places.EXPLOITATION_TYPES)",
    "places.source_agency": "the organisation that raised the place (Police, Council), "
                            "which the JAG partners share; not narrative",
    "activities.agency": "the organisation that acted (Police, Council licensing), which "
                         "the JAG partners share; not narrative",
    "score_runs.params_json": "written by placerisk: the run's options and numeric weights, "
                              "shown as the run's parameters",
    "score_runs.coverage_json": "written by placerisk: the dates the data cover, stated on "
                                "every run-based answer",
    **{f"incidents.{c}": _POLICE_UK
       for c in ("incident_key", "crime_id", "reported_by", "falls_within", "location",
                 "lsoa_name", "crime_type", "last_outcome", "context")},
}
PLANTED = (
    "settings.value", "areas.source", "imports.source", "places.notes", "place_levels.reason",
    "reports.source_agency", "reports.summary", "activities.outcome", "users.password_hash",
    "audit_log.object_ids", "audit_log.purpose", "audit_log.detail", "place_reviews.reason",
    "record_changes.reason", "record_changes.before_json", "record_changes.after_json",
)
ROLES = ("police", "guardian")


def marker(column: str) -> str:
    """The column's own marker: letters only, so no escaping changes it."""
    return "qz" + column.replace(".", "x").replace("_", "") + "qz"


def free_text_columns() -> set[str]:
    """``table.column`` of every Text column and every String longer than `THRESHOLD`."""
    return {f"{table.name}.{column.name}"
            for table in schema.metadata.sorted_tables for column in table.columns
            if isinstance(column.type, sa.String)
            and (column.type.length is None or column.type.length > THRESHOLD)}


def test_every_free_text_column_is_planted_or_allowed() -> None:
    """A new text column fails here until it is planted below or allowed with a reason."""
    assert set(PLANTED).isdisjoint(ALLOWED)
    assert free_text_columns() == set(PLANTED) | set(ALLOWED)
    assert all(len(why) > 20 for why in ALLOWED.values())


# --- the store ---------------------------------------------------------------------------

SEEN = {"name": "Synthetic flats", "category": "residential", "mace_level": 3,
        "source_agency": "Police", "assessed_on": "2025-01-15",
        "notes": marker("places.notes"), "level_reason": marker("place_levels.reason")}
MARKED_PLACES = [
    {"place_id": "PR", "latitude": 54.585, "longitude": -1.34, **SEEN},  # SAMPLE's place
    {"place_id": "PS", "latitude": 54.58, "longitude": -1.31, **SEEN},  # in SAMPLE's ward
]
MARKED_REPORTS = [
    {"report_id": f"MR{i}", "reported_on": f"2025-06-0{i + 1}", "place_id": place,
     "mace_level": 3, "source_agency": marker("reports.source_agency"),
     "summary": marker("reports.summary")}
    for i, place in enumerate(["PR", "PS", "PR", "PS"])
]
MARKED_ACTIVITIES = [
    {"activity_id": f"MA{i}", "activity_type": kind, "started_at": f"2025-06-1{i}T10:00",
     "place_id": place, "agency": "Council licensing", "outcome": marker("activities.outcome")}
    for i, (place, kind) in enumerate([("PR", "licensing_visit"), ("PS", "street_patrol"),
                                       ("P2", "premises_closure")])
]


def build_marked_store(folder: Path) -> Path:
    """The synthetic store, with a marker in every `PLANTED` column."""
    db = folder / "marked.db"
    store = open_store(db)
    files = marker("imports.source")
    try:
        ensure_accounts(store)
        replace_areas(store, make_areas(), source=marker("areas.source"))
        for kind, rows in (("places", PLACES + MARKED_PLACES),
                           ("reports", REPORTS + MARKED_REPORTS),
                           ("activities", ACTIVITIES + MARKED_ACTIVITIES)):
            result = import_file(store, kind, _write(folder / f"{files}-{kind}.csv", rows))
            assert result.rejected == 0, result.messages
        result = import_police_uk(store, _write(folder / f"{files}-street.csv", POLICE_UK))
        assert result.rejected == 0, result.messages
        review.decide(store, "PS", decision="retain", reason=marker("place_reviews.reason"),
                      user="analyst", role="analyst", today=AS_OF)
        audit.record(store, action="export", user_name="analyst", role="analyst",
                     object_type="export", object_ids=[marker("audit_log.object_ids")],
                     purpose=marker("audit_log.purpose"), detail=marker("audit_log.detail"))
        who = edits.Actor("analyst", "analyst")  # a place's versions keep its notes' values
        edits.update_place(store, "P3", {"notes": marker("record_changes.before_json")},
                           version=1, actor=who)
        edits.update_place(store, "P3", {"notes": marker("record_changes.after_json")},
                           version=2, actor=who, reason=marker("record_changes.reason"))
        accounts.add_user(store, "probe", "analyst", PASSWORD)
        with store.begin() as conn:
            t = schema.users
            conn.execute(sa.update(t).where(t.c.name == "probe")
                         .values(password_hash=marker("users.password_hash")))
        store.set_setting("probe", marker("settings.value"))
        run_scoring(store, ScoreParams(as_of=AS_OF), known_by=dt.datetime.now(dt.UTC))
        _check_planted(store)
    finally:
        store.close()
    return db


def _check_planted(store) -> None:
    """Each `PLANTED` column really holds its marker."""
    missing = []
    with store.connect() as conn:
        for name in PLANTED:
            table, column = name.split(".")
            c = schema.metadata.tables[table].c[column]
            if not conn.scalar(sa.select(sa.func.count()).where(c.contains(marker(name)))):
                missing.append(name)
    assert missing == []


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    return create_app(Settings(db=str(build_marked_store(tmp_path_factory.mktemp("free"))),
                               tiles="none"))


@pytest.fixture(scope="module")
def clients(app) -> Iterator[dict[str, TestClient]]:
    with bearer_clients(app, ("analyst", *ROLES)) as out:
        yield out


def _text(response) -> str:
    """What an answer says: a page's text and attributes, any other answer raw."""
    body = response.content.decode("utf-8", "replace")
    if response.headers.get("content-type", "").startswith("text/html"):
        return page_text(body).lower()
    return body.lower()


def test_no_planted_text_reaches_police_or_guardians(clients) -> None:
    cell = clients["analyst"].get("/api/cells", params={"limit": 1}).json()["data"][0]
    markers = {name: marker(name) for name in PLANTED}
    leaks = []
    for method, path in routes(clients["analyst"].app):
        if (method, path) in SKIP_POST:
            continue
        for role in ROLES:
            response = _call(clients[role], method, path, cell["h3_cell"])
            said = _text(response)
            leaks += [f"{role} {method} {path} ({response.status_code}): {name}"
                      for name, mark in markers.items() if mark in said]
    assert leaks == []


def test_analysts_do_get_the_planted_text(clients) -> None:
    """The scan would see a leak: the markers are where an analyst reads them."""
    analyst = clients["analyst"]
    notes = analyst.get("/api/places/PR/notes").text.lower()
    assert marker("places.notes") in notes and marker("reports.summary") in notes
    detail = analyst.get("/api/places/PS").text.lower()
    assert marker("place_levels.reason") in detail and marker("activities.outcome") in detail
    history = analyst.get("/api/places/P3/history").text.lower()
    assert all(marker(f"record_changes.{c}") in history
               for c in ("reason", "before_json", "after_json"))
