from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers import errors
from layers.hotspots import read as hotspots_read
from layers.hotspots.emerging import CATEGORIES
from layers.records import read as records_read
from layers.records.read import DEMO_AREAS_NOTICE, DEMO_DATA_NOTICE
from tests._pages import page_text
from tests.api.conftest import IMG, POLICE_UK, build_store, ensure_accounts_in, sign_in

LIST_ROUTES = ["/api/places", "/api/activities", "/api/cells", "/api/areas"]
PAGED_ROUTES = [*LIST_ROUTES, "/api/places.geojson", "/api/cells.geojson"]
CELL_SLACK = 0.01  # a hexagon of a cell near a box edge reaches a little beyond it


# --- the map -----------------------------------------------------------------------------

def test_map_shows_places_cells_and_wards(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for name in ("Safe Youth Club", "Corner Shop", "North Box", "South Box"):
        assert name in page
    cells = client.get("/api/cells").json()["data"]
    assert cells
    for cell in cells:
        assert cell["h3_cell"] in page
    assert "Cell scores" in page and "Places (MACE level)" in page


def test_map_escapes_imported_text(client: TestClient, synthetic: SimpleNamespace) -> None:
    page = client.get("/").text
    assert synthetic.SCRIPT not in page
    assert synthetic.IMG not in page
    assert "<img src=x" not in page
    assert "alert(1)" in page  # the escaped names are there, as text
    assert synthetic.TEMPLATE not in page
    assert "42zz" not in page_text(page)  # no Jinja evaluated on the server


def test_map_escapes_an_imported_ward_name(rich_client: TestClient,
                                          synthetic: SimpleNamespace) -> None:
    page = rich_client.get("/").text
    assert synthetic.SCRIPT not in page
    # the ward's tooltip text, HTML-escaped, in folium's JSON (which writes & as \u0026)
    (name,) = re.findall(r'"code": "E05000001", "name": "([^"]*)"', page)
    assert json.loads(f'"{name}"') == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_map_has_a_hot_spot_category_layer(rich_client: TestClient) -> None:
    page = rich_client.get("/").text
    assert "Cell scores" in page and "Hot spot categories" in page
    categories = {c["category"] for c in rich_client.get(
        "/api/cells", params={"limit": 1000}).json()["data"]}
    assert "sporadic hot spot" in categories
    assert "sporadic hot spot" in page  # the legend entry and the tooltips
    assert "Pattern" in page or "pattern " in page  # the simple label in the tooltips

def test_map_has_rank_activity_and_crime_layers(rich_client: TestClient) -> None:
    page = rich_client.get("/").text
    for text in ("Disruption activities", "police.uk crime (context)", "Ward rank",
                 "Current score", "1 of 2", "2 of 2", "crimes per cell",
                 "licensing visit", "street patrol", "advice given",
                 "crimes (police.uk, area-level): Drugs 1, Robbery 1, Violence and sexual "
                 "offences 1"):
        assert text in page, text
    store = rich_client.app.state.store  # type: ignore[attr-defined]
    with store.connect() as conn:
        _, ranking = hotspots_read.ward_ranking(conn)
    for score in ranking["current"]:
        assert f'"score": "{score:.1f}"' in page


def test_incident_cells_count_the_newest_months(rich_client: TestClient) -> None:
    store = rich_client.app.state.store  # type: ignore[attr-defined]
    with store.connect() as conn:
        three = records_read.incident_cells(conn)
        two = records_read.incident_cells(conn, months=2)
        one = records_read.incident_cells(conn, months=1)
        with pytest.raises(errors.ParameterError, match="months must be at least 1"):
            records_read.incident_cells(conn, months=0)
    assert list(three.columns) == ["h3_cell", "count", "top_types"]
    assert three["count"].tolist() == [3]  # 2025-03, -05 and -06: the newest three held
    assert three["top_types"][0] == [("Drugs", 1), ("Robbery", 1),
                                     ("Violence and sexual offences", 1)]
    assert two["count"].tolist() == [2]
    assert one["top_types"][0] == [("Drugs", 1)]


# police.uk crime at coordinates used nowhere else, and an activity with markup in its outcome
CRIME_AT = (54.5777, -1.3111)


@pytest.fixture(scope="module")
def context_client(tmp_path_factory: pytest.TempPathFactory):
    crime = [{**row, "Latitude": CRIME_AT[0], "Longitude": CRIME_AT[1]} for row in POLICE_UK]
    more = {"activities": [
        {"activity_id": "A9", "activity_type": "premises_closure",
         "started_at": "2025-06-22T09:00", "latitude": 54.59, "longitude": -1.34,
         "agency": "Council", "outcome": IMG, "jag_ref": "JAG-{{ 6*7 }}"}]}
    db = build_store(tmp_path_factory.mktemp("context"), more=more, police_uk=crime)
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        yield sign_in(c)


def test_map_escapes_activity_popups(context_client: TestClient) -> None:
    page = context_client.get("/").text
    assert IMG not in page and "<img src=x" not in page
    assert "JAG-42" not in page_text(page)
    assert "onerror=alert(1)" in page  # as escaped text in the popup
    assert "premises closure" in page


def test_map_shows_police_uk_crime_by_cell_not_by_point(context_client: TestClient) -> None:
    page = context_client.get("/").text
    assert "3 crimes (police.uk, area-level)" in page
    for coordinate in CRIME_AT:
        assert str(coordinate) not in page


def test_map_without_a_run_has_ward_outlines_only(unscored_client: TestClient) -> None:
    page = unscored_client.get("/").text
    assert "North Box" in page and "Ward rank" not in page and "1 of 2" not in page
    assert "Disruption activities" in page


def test_map_without_tiles_has_no_base_map(client: TestClient) -> None:
    assert "tile.openstreetmap.org" not in client.get("/").text


def test_map_with_tiles(make_client) -> None:
    page = make_client().get("/").text
    assert "tile.openstreetmap.org" in page
    assert "OpenStreetMap contributors" in page


@pytest.mark.parametrize(("vintage", "shown"), [("2024", False), ("demo", True)])
def test_demo_notice_only_for_demo_areas(make_client, vintage: str, shown: bool) -> None:
    page = make_client(vintage=vintage, tiles="none").get("/").text
    assert (DEMO_AREAS_NOTICE in page) is shown
    assert DEMO_DATA_NOTICE not in page  # the synthetic store's ids are not the demo's


def test_demo_records_on_real_wards_say_they_are_invented(tmp_path) -> None:
    db = build_store(tmp_path, more={"places": [
        {"place_id": "DEMO-P0001", "name": "Synthetic shop", "category": "shop",
         "latitude": 54.57, "longitude": -1.31, "mace_level": 2}]})
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        page = sign_in(c).get("/").text
    assert DEMO_DATA_NOTICE in page and DEMO_AREAS_NOTICE not in page


def test_cell_scores_are_the_stored_ones(client: TestClient, synthetic: SimpleNamespace
                                         ) -> None:
    body = client.get("/api/cells", params={"limit": 1000}).json()
    # the scored cells: those with records and their grid neighbours
    assert body["count"] == len(body["data"]) >= 3 * 7 - 6
    scores = [c["score"] for c in body["data"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert {c["as_of"] for c in body["data"]} == {synthetic.AS_OF.isoformat()}
    assert {c["category"] for c in body["data"]} <= set(CATEGORIES)
    assert all(c["ward_code"] in synthetic.BOXES for c in body["data"] if c["score"] > 0)


# --- JSON lists and pagination ---------------------------------------------------------

@pytest.mark.parametrize(("route", "total"), [
    ("/api/places", 5), ("/api/activities", 2), ("/api/areas", 2),
])
def test_lists_count_all_rows(client: TestClient, route: str, total: int) -> None:
    body = client.get(route).json()
    assert set(body) == {"data", "count"}
    assert body["count"] == total
    assert len(body["data"]) == total


def test_places_pages(client: TestClient, synthetic: SimpleNamespace) -> None:
    pages = [client.get("/api/places", params={"limit": 2, "offset": o}).json()
             for o in (0, 2, 4, 10)]
    assert [p["count"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["data"]) for p in pages] == [2, 2, 1, 0]
    ids = [row["source_id"] for p in pages for row in p["data"]]
    assert ids == [p["place_id"] for p in synthetic.PLACES]


def test_limit_is_capped(make_client) -> None:
    c = make_client(tiles="none", page_size_max=3)
    body = c.get("/api/places", params={"limit": 500}).json()
    assert (len(body["data"]), body["count"]) == (3, 5)


def test_places_filters(client: TestClient) -> None:
    body = client.get("/api/places", params={"mace_level": 2}).json()
    assert {p["source_id"] for p in body["data"]} == {"P4", "P5"}
    assert body["count"] == 2
    west = client.get("/api/places", params={"ward_code": "E05000001"}).json()
    assert {p["source_id"] for p in west["data"]} == {"P1", "P3"}
    assert west["data"][0]["level_name"] == "No concern"


@pytest.mark.parametrize("route", PAGED_ROUTES)
@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": "abc"}, {"limit": -5}, {"limit": 1.5}, {"offset": -1},
    {"offset": "x"}, {"offset": 10**30},
])
def test_bad_paging_is_422(client: TestClient, route: str, params: dict) -> None:
    assert client.get(route, params=params).status_code == 422


@pytest.mark.parametrize("params", [{"mace_level": 0}, {"mace_level": 5},
                                    {"mace_level": "high"}, {"ward_code": "E" * 17}])
def test_bad_filters_are_422(client: TestClient, params: dict) -> None:
    assert client.get("/api/places", params=params).status_code == 422


def test_places_never_include_notes(client: TestClient, synthetic: SimpleNamespace) -> None:
    for route in ("/api/places", "/api/places.geojson", "/"):
        response = client.get(route, params={"limit": 1000} if route != "/" else None)
        assert synthetic.NOTE not in response.text, route
    assert all("notes" not in p for p in client.get("/api/places").json()["data"])
    for feature in client.get("/api/places.geojson").json()["features"]:
        assert "notes" not in feature["properties"]


def test_activities_newest_first(client: TestClient) -> None:
    data = client.get("/api/activities").json()["data"]
    assert [a["source_id"] for a in data] == ["A2", "A1"]
    assert data[1]["place_id"] is not None and data[1]["ward_code"] == "E05000002"


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "sqlite"}


def test_openapi_describes_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/places" in spec["paths"] and "/api/cells.geojson" in spec["paths"]
    assert spec["paths"]["/api/places"]["get"]["summary"]
    assert client.get("/docs").status_code == 200


# --- GeoJSON -----------------------------------------------------------------------------

def _coordinates(geometry: dict) -> list[tuple[float, float]]:
    if geometry["type"] == "Point":
        return [tuple(geometry["coordinates"])]
    rings = geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        rings = [ring for polygon in rings for ring in polygon]
    return [tuple(xy) for ring in rings for xy in ring]


def _inside(points: list[tuple[float, float]], box: SimpleNamespace, slack: float) -> bool:
    (lng0, lng1), (lat0, lat1) = box.LNG, box.LAT
    return all(lng0 - slack <= lng <= lng1 + slack and lat0 - slack <= lat <= lat1 + slack
               for lng, lat in points)


@pytest.mark.parametrize(("route", "geometry_type", "n", "slack"), [
    ("/api/areas.geojson", "Polygon", 2, 1e-9),
    ("/api/places.geojson", "Point", 5, 1e-9),
    ("/api/cells.geojson", "Polygon", 21, CELL_SLACK),  # 3 cells with data, their rings
])
def test_geojson_collections(client: TestClient, synthetic: SimpleNamespace, route: str,
                             geometry_type: str, n: int, slack: float) -> None:
    response = client.get(route)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert (body["numberMatched"], body["numberReturned"]) == (n, n)
    assert len(body["features"]) == n
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == geometry_type
        assert _inside(_coordinates(feature["geometry"]), synthetic, slack)  # (lng, lat), not (lat, lng)


def test_geojson_paging(client: TestClient) -> None:
    every = client.get("/api/cells.geojson").json()["features"]
    body = client.get("/api/cells.geojson", params={"limit": 1, "offset": 1}).json()
    assert (body["numberMatched"], body["numberReturned"]) == (21, 1)
    assert body["features"][0]["properties"] == every[1]["properties"]
    places = client.get("/api/places.geojson", params={"limit": 2}).json()
    assert [f["properties"]["source_id"] for f in places["features"]] == ["P1", "P2"]
    assert places["features"][0]["geometry"]["coordinates"] == [-1.34, 54.57]


def test_area_boundaries_round_trip(client: TestClient, synthetic: SimpleNamespace) -> None:
    features = client.get("/api/areas.geojson").json()["features"]
    by_code = {f["properties"]["code"]: f for f in features}
    assert set(by_code) == set(synthetic.BOXES)
    for code, (name, (lng0, lat0, lng1, lat1)) in synthetic.BOXES.items():
        props = by_code[code]["properties"]
        assert (props["name"], props["vintage"]) == (name, "2024")
        xs, ys = zip(*_coordinates(by_code[code]["geometry"]), strict=True)
        assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx((lng0, lat0, lng1, lat1))


def test_leaflet_is_served_by_the_app_not_a_cdn(client: TestClient) -> None:
    page = client.get("/").text
    for cdn in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com",
                "bootstrapcdn.com"):
        assert cdn not in page_text(page)
    js = client.get("/static/vendor/leaflet/leaflet.js")
    assert js.status_code == 200 and "Leaflet" in js.text[:500]
    assert client.get("/static/vendor/leaflet/images/layers.png").status_code == 200


def test_postcode_search(tmp_path) -> None:
    from api.app import create_app
    from api.settings import Settings
    from layers.records.importer import import_postcodes
    from layers.store.engine import open_store

    db = tmp_path / "pc.db"
    store = open_store(db)
    (tmp_path / "cp.csv").write_text(
        '"TS18 1AA",10,444300,518900,"E92000001","","","","E06000004","E05014882"\n'
        '"TS18 1AB",10,444310,518910,"E92000001","","","","E06000004","E05014882"\n')
    import_postcodes(store, tmp_path / "cp.csv")
    store.close()
    with TestClient(create_app(Settings(db=str(db), tiles="none"))) as c:
        ensure_accounts_in(db)
        sign_in(c)
        found = c.get("/api/search", params={"q": "ts18 1a"}).json()["data"]
        assert [f["t"] for f in found] == ["TS18 1AA", "TS18 1AB"]
        assert found[0]["k"] == "postcode" and 54 < found[0]["c"][0] < 55
        assert c.get("/api/search", params={"q": "x"}).status_code == 422
        assert c.get("/api/search", params={"q": "'; drop"}).json()["data"] == []


def test_activities_filter_by_cell(rich_client: TestClient) -> None:
    every = rich_client.get("/api/activities", params={"limit": 1000}).json()["data"]
    cell = next(a["h3_cell"] for a in every if a["h3_cell"])
    mine = rich_client.get("/api/activities", params={"h3_cell": cell.upper()}).json()
    assert mine["count"] == sum(a["h3_cell"] == cell for a in every) >= 1


def test_place_detail_has_levels_and_activities_but_no_notes(client: TestClient,
                                                            synthetic: SimpleNamespace) -> None:
    body = client.get("/api/places/P2").json()
    assert body["source_id"] == "P2" and body["level_name"] == "High concern"
    assert [c["to_level"] for c in body["levels"]] == [4]
    assert [a["activity_type"] for a in body["activities"]] == ["licensing_visit"]
    assert "notes" not in body and synthetic.NOTE not in json.dumps(body)
    assert client.get("/api/places/NOPE").status_code == 404
