"""The guardian view over a store: nothing identifying, no parameter changes what is seen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import h3
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.guardian import render_guardian_html
from api.settings import Settings
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.records.places import LEVELS
from layers.store.engine import open_store
from tests._pages import page_text

from .conftest import PLACES, build_store, ensure_accounts_in, sign_in

CENTRE = (54.5769, -1.3096)  # the resolution-7 cell of P2 and P5
CELL7 = "871946558ffffff"
SUPPRESSED = ("87194655bffffff", "87194655cffffff")  # P3 alone; P4 alone
SECRET_NAMES = ["Dealer Den", "Back Alley Flat", "Gang Garage", "Night Cafe", "Shut Shop",
                "Grandma Smith's House"]
SECRET_ADDRESSES = ["13 Secret Street", "99 Hidden Row"]
SECRET_NOTES = "INTEL-NOTE-XYZ"
MORE_PLACES = [
    {"place_id": f"G{i}", "name": name, "category": "takeaway", "latitude": CENTRE[0] + dlat,
     "longitude": CENTRE[1] + dlng, "mace_level": level, "status": status,
     "address": SECRET_ADDRESSES[i % 2], "notes": f"{SECRET_NOTES} {i}",
     "exploitation_types": "cse;cce"}
    for i, (name, dlat, dlng, level, status) in enumerate([
        ("Dealer Den", 0.001, 0.001, 4, "open"),
        ("Back Alley Flat", -0.001, 0.002, 3, "monitoring"),
        ("Gang Garage", 0.002, -0.001, 2, "open"),
        ("Night Cafe", -0.002, -0.002, 3, "open"),
        ("Shut Shop", 0.0015, 0.0, 4, "closed"),  # closed: not counted
    ])
] + [
    {"place_id": "G5", "name": "Grandma Smith's House", "category": "residential",
     "latitude": 54.565, "longitude": -1.335, "mace_level": 1},  # level 1, not a public venue
    {"place_id": "G6", "name": "Library Annexe", "category": "youth_club",
     "latitude": 54.5912345, "longitude": -1.3212345, "mace_level": 1},
]


def guardian_client(db: Path, **settings: object) -> TestClient:
    ensure_accounts_in(db)
    client = TestClient(create_app(Settings(db=str(db), tiles="none", **settings)))  # type: ignore[arg-type]
    return sign_in(client, "guardian")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("guardian"), more={"places": MORE_PLACES})


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[TestClient]:
    with guardian_client(db) as c:
        yield c


@pytest.fixture(scope="module")
def page(client: TestClient) -> str:
    response = client.get("/guardian")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


@pytest.fixture(scope="module")
def payload(client: TestClient) -> dict:
    response = client.get("/api/guardian/cells")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def res9_cells(db: Path) -> set[str]:
    store = open_store(db)
    try:
        with store.connect() as conn:
            places = set(records_read.places(conn).rows["h3_cell"].dropna())
            cells = set(hotspots_read.cells(conn).rows["h3_cell"])
    finally:
        store.close()
    assert places and cells
    return places | cells


def forbidden_texts(synthetic: SimpleNamespace) -> list[str]:
    concern = [p for p in PLACES if p["mace_level"] > 1]
    texts = [p["name"] for p in concern] + SECRET_NAMES + SECRET_ADDRESSES
    texts += [synthetic.NOTE, SECRET_NOTES, "cse;cce", "cce;cse", "Safe Youth Club",
              "Library Annexe", "6*7", "42zz", "onerror"]
    return texts


MARKUP = ["&lt;script", "&lt;img"]  # the concern names escaped: looked for in the raw text


# --- what is shown -------------------------------------------------------------------------

def test_json_has_only_resolution_7_cells_bands_and_flags(payload: dict) -> None:
    assert payload["resolution"] == 7 and payload["k"] == 5
    assert payload["bands"] == ["5-9", "10-19", "20+"]
    assert payload["count"] == len(payload["data"]) > 3
    for row in payload["data"]:
        assert set(row) == {"h3_cell", "places_band", "concern_band", "shown"}
        assert h3.get_resolution(row["h3_cell"]) == 7
    by_cell = {row["h3_cell"]: row for row in payload["data"]}
    assert by_cell[CELL7]["shown"] is True
    assert by_cell[CELL7]["places_band"] == "5-9"  # P2, P5 and four more; the closed one not
    assert by_cell[CELL7]["concern_band"] in {"lower", "medium", "higher"}
    for cell in SUPPRESSED:
        assert by_cell[cell] == {"h3_cell": cell, "places_band": "not shown",
                                 "concern_band": "not shown", "shown": False}
    assert [c for c, row in by_cell.items() if row["shown"]] == [CELL7]


def test_json_period_is_a_fixed_13_week_block(payload: dict) -> None:
    import datetime as dt
    start = dt.date.fromisoformat(payload["period_start"])
    end = dt.date.fromisoformat(payload["period_end"])
    assert (end - start).days == 13 * 7 - 1
    assert start.weekday() == 0 and end <= dt.date(2025, 6, 30)


def test_suppressed_cells_say_not_shown_never_zero(page: str, payload: dict) -> None:
    assert "not shown (fewer than 5 places)" in page
    hidden = [row for row in payload["data"] if not row["shown"]]
    assert hidden
    for row in hidden:
        assert not re.search(r"\d", row["places_band"] + row["concern_band"])


def test_protective_places_appear_with_category_not_name(page: str) -> None:
    assert "Youth or leisure venue" in page
    assert "Protective places" in page
    assert "[-1.34, 54.57]" in page and "[-1.3212, 54.5912]" in page  # rounded to 4 places
    assert "-1.3212345" not in page


def test_html_uses_no_cdn(page: str) -> None:
    assert "cdn" not in page_text(page).lower()
    assert "/static/vendor/leaflet/leaflet.js" in page


# --- what is never shown -------------------------------------------------------------------

@pytest.mark.parametrize("which", ["page", "json"])
def test_nothing_names_grades_or_describes_a_place_of_concern(
        which: str, page: str, client: TestClient, synthetic: SimpleNamespace,
        res9_cells: set[str]) -> None:
    raw = page if which == "page" else client.get("/api/guardian/cells").text
    text = page_text(raw) if which == "page" else raw  # words, not base64 payloads
    for forbidden in forbidden_texts(synthetic):
        assert forbidden not in text, forbidden
    for markup in (*MARKUP, synthetic.SCRIPT, synthetic.IMG):
        assert markup not in raw, markup
    for level_name in LEVELS.values():
        assert level_name.lower() not in text.lower()
    assert "mace" not in text.lower()
    for cell in res9_cells:
        assert cell not in text
    if which == "json":
        for word in ("cse", "cce", "takeaway", "lat", "lng", "score", "name", "address"):
            assert word not in text


# --- no parameter changes anything ---------------------------------------------------------

TRIES = [{"k": "1"}, {"k": "1", "resolution": "9"}, {"resolution": "9", "period": "1w"},
         {"run_id": "1", "as_of": "2025-01-01", "since": "2025-01-01", "limit": "1"}]


@pytest.mark.parametrize("params", TRIES)
def test_query_parameters_change_nothing_in_json(client: TestClient, params: dict) -> None:
    plain = client.get("/api/guardian/cells").content
    assert client.get("/api/guardian/cells", params=params).content == plain


def _without_ids(html: str) -> str:
    return re.sub(r"[0-9a-f]{32}", "ID", html)  # folium names every element with a uuid


@pytest.mark.parametrize("params", TRIES)
def test_query_parameters_change_nothing_in_html(client: TestClient, page: str,
                                                 params: dict) -> None:
    assert _without_ids(client.get("/guardian", params=params).text) == _without_ids(page)


def test_routes_declare_no_parameters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()["paths"]
    for path in ("/guardian", "/api/guardian/cells"):
        assert not spec[path]["get"].get("parameters")


# --- k is configuration, never a request ---------------------------------------------------

def test_k_comes_from_settings(db: Path) -> None:
    with guardian_client(db, guardian_k=3) as c:
        data = c.get("/api/guardian/cells").json()
    assert data["k"] == 3 and data["bands"][0] == "3-4"
    shown = {row["h3_cell"] for row in data["data"] if row["shown"]}
    assert shown == {CELL7}  # the others hold one or two places


def test_k_below_three_is_refused(db: Path) -> None:
    store = open_store(db)
    try:
        with pytest.raises(ValueError, match="at least 3"):
            render_guardian_html(store, Settings(db=str(db), tiles="none", guardian_k=2))
    finally:
        store.close()


def test_standalone_html_for_the_cli(db: Path) -> None:
    store = open_store(db)
    try:
        html = render_guardian_html(store, Settings(db=str(db), tiles="none"), standalone=True)
    finally:
        store.close()
    assert "data:text/javascript;base64," in html
    assert "not shown (fewer than 5 places)" in html


def test_unscored_store_still_shows_counts(tmp_path: Path) -> None:
    db = build_store(tmp_path, more={"places": MORE_PLACES}, score=False)
    with guardian_client(db) as c:
        data = c.get("/api/guardian/cells").json()
    assert data["period_start"] is None
    (row,) = [r for r in data["data"] if r["shown"]]
    assert row["places_band"] == "5-9" and row["concern_band"] is None


def test_app_refuses_to_start_with_k_below_three(db: Path) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        create_app(Settings(db=str(db), tiles="none", guardian_k=2))
