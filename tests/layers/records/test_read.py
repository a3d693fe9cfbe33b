"""The record readers of the API and the map (`layers.records.read`), on SQLite and PostgreSQL.

`fill` loads the small synthetic data of ``tests/api/conftest.py`` into a store with its two
box wards in two authorities (North Box in Stockton-on-Tees, South Box in Hartlepool), one
closed place ready to erase, police.uk crime and four postcodes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely

from layers.access import review_store as review
from layers.errors import NotFoundError, ParameterError
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.records import read
from layers.records.filters import MapFilter
from layers.records.importer import import_file, import_police_uk, import_postcodes
from layers.store.engine import Store, replace_areas
from tests.api.conftest import (
    ACTIVITIES,
    AS_OF,
    BOXES,
    MORE,
    NOTE,
    PLACES,
    POLICE_UK,
    REPORTS,
    _write,
    make_areas,
)

STK, HPL = "E06000004", "E06000001"
NORTH, SOUTH = "E05000001", "E05000002"  # North Box in STK, South Box in HPL
WARDS = {NORTH: STK, SOUTH: HPL}
# the H3 cells (resolution 9) of the synthetic records
P1_CELL, P2_CELL, P4_CELL = "89194655a3bffff", "89194655813ffff", "89194655c63ffff"
R3_CELL, PATROL_CELL = "89194655b57ffff", "89194655e43ffff"  # R0, R3 and A2; the PR reports
CRIME_NORTH = (54.56, -1.33)  # in R3_CELL
GONE = {"place_id": "GONE", "name": "Gone Cafe", "category": "shop", "latitude": 54.57,
        "longitude": -1.34, "mace_level": 3, "status": "closed", "notes": "erase me"}
CCE = {"report_id": "RX", "reported_on": "2025-06-05", "place_id": "P4", "mace_level": 3,
       "exploitation_type": "cce"}
CRIMES = POLICE_UK + [
    {**POLICE_UK[0], "Crime ID": "c8"},  # a second violent crime of 2025-05, with P2
    {**POLICE_UK[2], "Crime ID": "c9", "Month": "2025-05", "Latitude": CRIME_NORTH[0],
     "Longitude": CRIME_NORTH[1]},  # a Robbery in the north
]
POSTCODES = (  # Code-Point Open rows: district and ward codes last
    '"TS18 1AA",10,444300,518900,"E92000001","","","","E06000004","E05000001"\n'
    '"TS18 1AB",10,444310,518910,"E92000001","","","","E06000004","E05000001"\n'
    '"TS24 7AA",10,451000,533000,"E92000001","","","","E06000001",""\n'
    '"TS25 1XX",10,451000,530000,"E92000001","","","","E06000099","E05000002"\n')


def fill(store: Store, folder: Path, *, score: bool = False) -> Store:
    """Load the synthetic records into ``store`` (and score them as of `AS_OF` if asked)."""
    areas = make_areas()
    areas.loc[areas["code"] == SOUTH, ["authority_code", "authority_name"]] = [HPL, "Hartlepool"]
    replace_areas(store, areas, source="test")
    rows = {"places": PLACES + MORE["places"] + [GONE], "reports": REPORTS + MORE["reports"]
            + [CCE], "activities": ACTIVITIES}
    for kind, kind_rows in rows.items():
        result = import_file(store, kind, _write(folder / f"{kind}.csv", kind_rows))
        assert result.rejected == 0, result.messages
    assert import_police_uk(store, _write(folder / "street.csv", CRIMES)).rejected == 0
    (folder / "codepoint.csv").write_text(POSTCODES)
    assert import_postcodes(store, folder / "codepoint.csv").rejected == 0
    if score:  # everything stored so far is known; the events count up to AS_OF
        run_scoring(store, ScoreParams(as_of=AS_OF), known_by=dt.datetime.now(dt.UTC))
    return store


@pytest.fixture
def filled(store: Store, tmp_path: Path) -> Store:
    return fill(store, tmp_path)


def ids(page: read.Page, column: str = "source_id") -> list[str]:
    return page.rows[column].tolist()


# --- places ----------------------------------------------------------------------------------

def test_places_leave_out_notes_unless_asked(filled: Store) -> None:
    with filled.connect() as conn:
        plain = read.places(conn)
        noted = read.places(conn, with_notes=True)
        detail = read.place_detail(conn, "P1")
    assert ids(plain) == ["P1", "P2", "P3", "P4", "P5", "P6", "GONE"] and plain.total == 7
    assert "notes" not in plain.rows.columns and "notes" not in detail
    assert noted.rows.set_index("source_id").loc["P1", "notes"] == f"{NOTE} protective"


def test_an_erased_place_is_left_out_everywhere(filled: Store) -> None:
    review.erase(filled, "GONE", user="ann")
    with filled.connect() as conn:
        page = read.places(conn, with_notes=True)
        assert "GONE" not in ids(page) and page.total == 6
        assert read.places(conn, ward_code=NORTH).total == 2  # P1, P3
        for reader in (read.place_detail, read.place_notes):
            with pytest.raises(NotFoundError, match="no place 'GONE'"):
                reader(conn, "GONE")


def test_places_filter_by_ward_and_level_and_page(filled: Store) -> None:
    with filled.connect() as conn:
        south = read.places(conn, ward_code=SOUTH)
        high = read.places(conn, mace_level=4)
        page = read.places(conn, limit=2, offset=1)
    assert ids(south) == ["P2", "P4", "P5", "P6"]
    assert ids(high) == ["P2", "P6"] and set(high.rows["level_name"]) == {"High concern"}
    assert ids(page) == ["P2", "P3"] and page.total == 7


def test_place_detail_holds_levels_and_latest_activities(filled: Store) -> None:
    with filled.connect() as conn:
        detail = read.place_detail(conn, "P2")
        none = read.place_detail(conn, "P2", activities_limit=0)
    assert detail["name"] == PLACES[1]["name"] and detail["level_name"] == "High concern"
    assert [(lv["from_level"], lv["to_level"]) for lv in detail["levels"]] == [(None, 4)]
    assert [a["activity_type"] for a in detail["activities"]] == ["licensing_visit"]
    assert none["activities"] == []


def test_place_notes_hold_the_reports_newest_first(filled: Store) -> None:
    with filled.connect() as conn:
        notes = read.place_notes(conn, "P2")
        one = read.place_notes(conn, "P2", reports_limit=1)
    assert notes["notes"] == f"{NOTE} 2"
    assert [(r["source_id"], r["patrol_discovered"]) for r in notes["reports"]] == [
        ("R5", True), ("R2", False), ("R1", False)]
    assert [r["source_id"] for r in one["reports"]] == ["R5"]


# --- scope -----------------------------------------------------------------------------------

def test_scope_hides_other_authorities(filled: Store) -> None:
    hpl, stk = frozenset({HPL}), frozenset({STK})
    with filled.connect() as conn:
        assert ids(read.places(conn, scope=hpl)) == ["P2", "P4", "P5", "P6"]
        assert ids(read.places(conn, scope=stk)) == ["P1", "P3", "GONE"]
        assert read.places(conn, scope=frozenset()).total == 0
        assert ids(read.activities(conn, scope=hpl)) == ["A1"]
        assert ids(read.activities(conn, scope=stk)) == ["A2"]
        assert read.areas(conn, scope=hpl)[0]["code"].tolist() == [SOUTH]
        assert [p["t"] for p in read.search_postcodes(conn, "TS", scope=stk)] == [
            "TS18 1AA", "TS18 1AB"]
        # by district (TS24 7AA) or by ward (TS25 1XX, of another district)
        assert [p["t"] for p in read.search_postcodes(conn, "TS", scope=hpl)] == [
            "TS24 7AA", "TS25 1XX"]
        assert read.place_detail(conn, "P2", scope=hpl)["source_id"] == "P2"


@pytest.mark.parametrize("place", ["P1", "nope"])
def test_an_out_of_scope_or_unknown_place_is_not_found(filled: Store, place: str) -> None:
    with filled.connect() as conn:
        for reader in (read.place_detail, read.place_notes):
            with pytest.raises(NotFoundError, match=f"no place '{place}'"):
                reader(conn, place, scope=frozenset({HPL}))


# --- activities and areas --------------------------------------------------------------------

def test_activities_newest_first_and_filtered(filled: Store) -> None:
    with filled.connect() as conn:
        every = read.activities(conn)
        patrols = read.activities(conn, activity_type="street_patrol")
        in_cell = read.activities(conn, h3_cell=P2_CELL.upper())
        south = read.activities(conn, ward_code=SOUTH)
        p2 = read.place_detail(conn, "P2")["id"]
    assert ids(every) == ["A2", "A1"] and every.total == 2
    assert ids(patrols) == ["A2"] and ids(in_cell) == ["A1"] and ids(south) == ["A1"]
    assert every.rows["place_id"].tolist() == [None, p2]  # the store id of the place


def test_areas_decode_boundaries_only_when_asked(filled: Store) -> None:
    with filled.connect() as conn:
        areas, total = read.areas(conn)
        bare, _ = read.areas(conn, geometry=False)
        one, one_total = read.areas(conn, code=NORTH)
        paged, paged_total = read.areas(conn, limit=1)
    assert total == 2 and areas.crs.to_epsg() == 4326
    assert areas["code"].tolist() == [SOUTH, NORTH]  # by authority: E06000001 first
    assert shapely.equals(areas.geometry.iloc[1], shapely.box(*BOXES[NORTH][1]))
    assert bare.geometry.isna().all() and "geometry_wkb" not in bare.columns
    assert one["code"].tolist() == [NORTH] and one_total == 1
    assert paged["code"].tolist() == [SOUTH] and paged_total == 2


# --- demo notices ----------------------------------------------------------------------------

def test_demo_notice_is_none_for_real_data(filled: Store) -> None:
    with filled.connect() as conn:
        assert read.demo_notice(conn) is None and not read.has_demo_areas(conn)


def test_demo_notice_names_demo_records(filled: Store, tmp_path: Path) -> None:
    demo = {"place_id": "DEMO-1", "name": "Synthetic", "category": "shop", "latitude": 54.57,
            "longitude": -1.34, "mace_level": 2}
    assert import_file(filled, "places", _write(tmp_path / "demo.csv", [demo])).rejected == 0
    with filled.connect() as conn:
        assert read.demo_notice(conn) == read.DEMO_DATA_NOTICE


def test_demo_notice_names_demo_areas(store: Store) -> None:
    replace_areas(store, make_areas(vintage="demo"), source="test")
    with store.connect() as conn:
        assert read.has_demo_areas(conn)
        assert read.demo_notice(conn) == read.DEMO_AREAS_NOTICE


# --- report cells ----------------------------------------------------------------------------

def cell_counts(frame) -> dict[str, tuple[int, int]]:
    return {c: (int(i), int(p)) for c, i, p in frame[list(read.REPORT_CELL_COLUMNS)].values}


def test_report_cells_keep_patrol_reports_apart(filled: Store) -> None:
    with filled.connect() as conn:
        frame = read.report_cells(conn, MapFilter())
    # R1 R2 (+R5 by patrol) at P2; R0 R3; R4 at P1; RX at P4; PR0-PR2 by patrol only
    assert list(cell_counts(frame).items()) == [
        (P2_CELL, (2, 1)), (R3_CELL, (2, 0)), (P1_CELL, (1, 0)), (P4_CELL, (1, 0)),
        (PATROL_CELL, (0, 3))]
    assert frame["independent"].dtype.kind == "i" and frame["patrol"].dtype.kind == "i"


@pytest.mark.parametrize(("within", "expected"), [
    (MapFilter(date_from=dt.date(2025, 6, 1)),
     {P2_CELL: (2, 1), P1_CELL: (1, 0), P4_CELL: (1, 0), PATROL_CELL: (0, 1)}),
    (MapFilter(date_to=dt.date(2025, 5, 31)), {R3_CELL: (2, 0), PATROL_CELL: (0, 2)}),
    (MapFilter(exploitation_type="cce"), {P4_CELL: (1, 0)}),
    (MapFilter(place_category="takeaway"), {P2_CELL: (2, 1)}),
    (MapFilter(authority_code=HPL), {P2_CELL: (2, 1), P4_CELL: (1, 0)}),
])
def test_report_cells_apply_the_filter(filled: Store, within: MapFilter,
                                       expected: dict[str, tuple[int, int]]) -> None:
    with filled.connect() as conn:
        assert cell_counts(read.report_cells(conn, within, WARDS)) == expected


def test_report_cells_keep_the_scope_and_their_columns_when_empty(filled: Store) -> None:
    with filled.connect() as conn:
        scoped = read.report_cells(conn, MapFilter(), scope=frozenset({HPL}))
        empty = read.report_cells(conn, MapFilter(exploitation_type="cse"))
    assert cell_counts(scoped) == {P2_CELL: (2, 1), P4_CELL: (1, 0)}
    assert empty.empty and list(empty.columns) == list(read.REPORT_CELL_COLUMNS)


# --- incidents -------------------------------------------------------------------------------

def test_incident_cells_count_the_newest_months_with_top_types(filled: Store) -> None:
    with filled.connect() as conn:
        frame = read.incident_cells(conn)  # 2025-06, 2025-05, 2025-03: not 2023-06
        top1 = read.incident_cells(conn, top=1)
    assert frame["h3_cell"].tolist() == [P2_CELL, R3_CELL]
    assert frame["count"].tolist() == [4, 1] and frame["count"].dtype.kind == "i"
    assert frame["top_types"].iloc[0] == [("Violence and sexual offences", 2), ("Drugs", 1),
                                          ("Robbery", 1)]  # commonest, then by name
    assert frame["top_types"].iloc[1] == [("Robbery", 1)]
    assert top1["top_types"].iloc[0] == [("Violence and sexual offences", 2)]


def test_incident_cells_pick_months_by_count_or_filter(filled: Store) -> None:
    with filled.connect() as conn:
        newest = read.incident_cells(conn, months=1)
        june_2023 = read.incident_cells(conn, within=MapFilter(
            date_from=dt.date(2023, 6, 10), date_to=dt.date(2023, 6, 20)))
        stockton = read.incident_cells(conn, within=MapFilter(authority_code=STK), wards=WARDS)
        every = read.incident_cells(conn, months=99)
    assert newest["count"].tolist() == [1] and newest["top_types"].iloc[0] == [("Drugs", 1)]
    assert june_2023["top_types"].tolist() == [[("Bicycle theft", 1)]]
    assert stockton["h3_cell"].tolist() == [R3_CELL]
    assert every["count"].sum() == len(CRIMES)


def test_incident_cells_keep_the_scope_and_refuse_no_months(filled: Store) -> None:
    with filled.connect() as conn:
        scoped = read.incident_cells(conn, scope=frozenset({STK}))
        none = read.incident_cells(conn, scope=frozenset())
        with pytest.raises(ParameterError, match="months must be at least 1, got 0"):
            read.incident_cells(conn, months=0)
        types = read.incident_types(conn)
    assert scoped["h3_cell"].tolist() == [R3_CELL]
    assert none.empty and list(none.columns) == list(read.INCIDENT_CELL_COLUMNS)
    assert types == ["Bicycle theft", "Drugs", "Robbery", "Violence and sexual offences"]


# --- postcodes -------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["ts18 1a", "TS181A", "  Ts18  1A ", "ts18"])
def test_search_postcodes_ignores_case_and_spaces(filled: Store, query: str) -> None:
    with filled.connect() as conn:
        found = read.search_postcodes(conn, query)
    assert [p["t"] for p in found] == ["TS18 1AA", "TS18 1AB"]
    assert found[0]["k"] == "postcode" and 54.5 < found[0]["c"][0] < 54.6
    assert all(round(x, 6) == x for p in found for x in p["c"])


def test_search_postcodes_keeps_to_its_limit(filled: Store) -> None:
    with filled.connect() as conn:
        assert [p["t"] for p in read.search_postcodes(conn, "ts", limit=3)] == [
            "TS18 1AA", "TS18 1AB", "TS24 7AA"]
        assert read.search_postcodes(conn, "TS99") == []


@pytest.mark.parametrize("query", ["", "   ", "TS18%", "'; drop", "TS_8", "TS18 1AAXX"])
def test_search_postcodes_refuses_odd_queries(filled: Store, query: str) -> None:
    with filled.connect() as conn:
        assert read.search_postcodes(conn, query) == []
