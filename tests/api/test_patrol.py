"""The patrol view: ``/patrol`` (HTML), ``/api/patrol`` (JSON) and `render_patrol_html`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes.patrol import router
from api.services.patrol import NO_RUN_HINT, PATROL_NOTICE, render_patrol_html
from api.settings import Settings
from geo import h3index
from layers import errors
from layers.action.patrol.cells import MAX_TOP, NATO
from layers.hotspots.engine import ScoreParams
from layers.hotspots.runs import run_scoring
from layers.hotspots.weights import Weights
from tests._pages import page_text

NORTH, SOUTH = "E05000001", "E05000002"
LABEL = re.compile(rf"^({'|'.join(NATO)}) [1-9]$")
URL = re.compile(r"""(?:https?:)?//[^\s"'()<>]+""")


def app_of(client: TestClient) -> FastAPI:
    return cast(FastAPI, client.app)


def with_patrol(client: TestClient) -> TestClient:
    """The conftest client's app (built by `create_app`) with the patrol router included."""
    paths = {getattr(r, "path", None) for r in app_of(client).router.routes}
    if "/api/patrol" not in paths:
        app_of(client).include_router(router)
    return client


@pytest.fixture(scope="module")
def patrol(client: TestClient) -> TestClient:
    return with_patrol(client)


@pytest.fixture(scope="module")
def rich(rich_client: TestClient) -> TestClient:
    return with_patrol(rich_client)


def cell_at(lat: float, lng: float) -> str:
    cells = h3index.latlng_to_cells(np.array([lat]), np.array([lng]), resolution=9)
    return str(h3index.cells_to_str(cells)[0])


def plan(client: TestClient, ward: str, **params: Any) -> dict:
    response = client.get("/api/patrol", params={"ward": ward, **params})
    assert response.status_code == 200, response.text
    return response.json()


def ward_cells(client: TestClient, ward: str) -> list[dict]:
    return client.get("/api/cells", params={"ward_code": ward, "limit": 1000}).json()["data"]


# --- JSON --------------------------------------------------------------------------------

@pytest.mark.parametrize("ward", [NORTH, SOUTH])
def test_json_is_the_wards_top_cells_in_order(patrol: TestClient, ward: str) -> None:
    body = plan(patrol, ward, top=3)
    cells = ward_cells(patrol, ward)
    positive = sorted((c for c in cells if c["score"] > 0), key=lambda c: -c["score"])
    assert body["ward_code"] == ward and body["run_id"] == cells[0]["run_id"]
    assert body["count"] == len(body["data"]) == min(3, len(positive)) > 0
    assert {d["h3_cell"] for d in body["data"]} == {c["h3_cell"] for c in positive[:3]}
    assert body["data"][0]["h3_cell"] == positive[0]["h3_cell"]
    assert [d["order"] for d in body["data"]] == list(range(1, body["count"] + 1))
    assert all(LABEL.match(d["label"]) for d in body["data"])
    assert len({d["label"] for d in body["data"]}) == body["count"]
    assert all(10 <= d["dwell_minutes"] <= 15 for d in body["data"])
    assert body["covered_share"] == pytest.approx(
        sum(d["share_of_ward_score"] for d in body["data"]))
    assert body["score_includes_patrol_records"] is False
    assert body["tour_metres"] >= 0


def test_json_never_leaves_the_ward(rich: TestClient) -> None:
    for ward in (NORTH, SOUTH):
        inside = {c["h3_cell"] for c in ward_cells(rich, ward)}
        assert {d["h3_cell"] for d in plan(rich, ward, top=MAX_TOP)["data"]} <= inside


def test_patrol_discovered_records_do_not_make_a_target(rich: TestClient,
                                                        synthetic: SimpleNamespace) -> None:
    patrolled = cell_at(*synthetic.PATROL_AT)
    detail = rich.get(f"/api/cells/{patrolled}").json()
    assert detail["parts"]["patrol"] > 0 and detail["current"] == 0
    cells = {d["h3_cell"] for d in plan(rich, detail["ward_code"], top=MAX_TOP)["data"]}
    assert patrolled not in cells


def test_json_is_deterministic_and_seeded(patrol: TestClient) -> None:
    assert plan(patrol, SOUTH, seed=5) == plan(patrol, SOUTH, seed=5)
    a, b = plan(patrol, SOUTH), plan(patrol, SOUTH, seed=20250630)
    strip = [{k: v for k, v in d.items() if k != "dwell_minutes"} for d in a["data"]]
    assert strip == [{k: v for k, v in d.items() if k != "dwell_minutes"} for d in b["data"]]


def test_json_carries_no_free_text(rich: TestClient, synthetic: SimpleNamespace) -> None:
    text = rich.get("/api/patrol", params={"ward": NORTH, "top": MAX_TOP}).text
    for place in synthetic.PLACES:
        assert place["name"] not in text
    assert synthetic.NOTE not in text and "Old Garage" not in text


# --- HTML --------------------------------------------------------------------------------

@pytest.mark.parametrize("ward", [NORTH, SOUTH])
def test_page_shows_the_plan(patrol: TestClient, ward: str) -> None:
    body = plan(patrol, ward)
    response = patrol.get("/patrol", params={"ward": ward})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "placerisk-patrol-table" in page and f"Patrol view: ward {ward}" in page
    for d in body["data"]:
        assert f"<td>{d['order']}</td><td>{d['label']}</td>" in page
        assert f"{d['order']} {d['label']}" in page  # the label on the map


def test_page_has_no_place_names_notes_or_ward_names(rich: TestClient,
                                                     synthetic: SimpleNamespace) -> None:
    for ward in (NORTH, SOUTH):
        page = rich.get("/patrol", params={"ward": ward, "top": MAX_TOP}).text
        text = page_text(page)  # the names in words, whether shown escaped or not
        for place in synthetic.PLACES:
            for shown in (page, text):  # markup in the page, or text
                assert place["name"] not in shown
                assert place.get("address", "\0") not in shown
        for word in (synthetic.NOTE, "Old Garage", "South Box", "North Box",
                     "Safe Youth Club", "Corner Shop", "High Street", "42zz"):
            assert word not in text, word
        for markup in ("&lt;script&gt;", "&lt;img", "&#123;&#123;"):
            assert markup not in page, markup


def test_page_makes_no_cdn_request(patrol: TestClient) -> None:
    page = patrol.get("/patrol", params={"ward": SOUTH}).text
    external = set(URL.findall(page))
    assert external <= {"//leafletjs.com", "http://www.w3.org/2000/svg"}, external
    assert "/static/vendor/leaflet/leaflet.js" in page


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("ward", ["E05999999", "<script>alert(1)", "{{ 6*7 }}zz"])
def test_unknown_ward_is_404_with_how_to_find_codes(patrol: TestClient, ward: str) -> None:
    page = patrol.get("/patrol", params={"ward": ward})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "/api/areas" in page.text and NORTH in page.text
    assert "<script>alert" not in page.text and "42zz" not in page_text(page.text)
    body = patrol.get("/api/patrol", params={"ward": ward})
    assert body.status_code == 404
    assert "/api/areas" in body.json()["detail"] and ward in body.json()["detail"]


def test_no_run_is_404_saying_score_first(unscored_client: TestClient) -> None:
    c = with_patrol(unscored_client)
    page = c.get("/patrol", params={"ward": NORTH})
    assert page.status_code == 404
    assert "run `placerisk score` first" in html.unescape(page.text)
    body = c.get("/api/patrol", params={"ward": NORTH})
    assert body.status_code == 404 and body.json()["detail"] == NO_RUN_HINT


@pytest.mark.parametrize("params", [
    {"ward": NORTH, "top": 0}, {"ward": NORTH, "top": MAX_TOP + 1},
    {"ward": NORTH, "top": "eight"}, {"ward": NORTH, "top": 2.5}, {},
    {"ward": ""}, {"ward": "E" * 17}, {"ward": NORTH, "seed": -1},
])
@pytest.mark.parametrize("path", ["/patrol", "/api/patrol"])
def test_bad_parameters_are_422(patrol: TestClient, path: str, params: dict) -> None:
    assert patrol.get(path, params=params).status_code == 422


# --- a run that counts patrol records, and the CLI function --------------------------------

def test_run_counting_patrol_records_is_flagged(make_client, synthetic: SimpleNamespace) -> None:
    c = with_patrol(make_client(tiles="none"))
    params = ScoreParams(as_of=synthetic.AS_OF, weights=Weights(include_patrol=True))
    run_scoring(app_of(c).state.store, params, known_by=dt.datetime.now(dt.UTC))
    assert plan(c, SOUTH)["score_includes_patrol_records"] is True
    page = c.get("/patrol", params={"ward": SOUTH}).text
    assert PATROL_NOTICE in page and "Scores count patrol-discovered records" in page


def test_render_patrol_html_for_the_cli(patrol: TestClient) -> None:
    store = app_of(patrol).state.store
    settings = dataclasses.replace(app_of(patrol).state.settings, tiles="none")
    page = render_patrol_html(store, settings, ward_code=SOUTH, standalone=True)
    assert "data:text/javascript;base64," in page and "/static/vendor" not in page
    assert "placerisk-patrol-table" in page
    with pytest.raises(errors.NotFoundError, match="/api/areas"):
        render_patrol_html(store, settings, ward_code="E05999999")
    with pytest.raises(errors.ParameterError, match="top must be"):
        render_patrol_html(store, settings, ward_code=SOUTH, top=0)


def test_render_uses_the_settings_tiles(patrol: TestClient) -> None:
    settings = Settings(db=None, tiles="https://tiles.example.internal/{z}/{x}/{y}.png")
    page = render_patrol_html(app_of(patrol).state.store, settings, ward_code=SOUTH)
    assert "tiles.example.internal" in page


def test_served_patrol_view_links_to_a_shift_plan(client) -> None:
    page = client.get("/patrol", params={"ward": "E05000002"}).text
    assert 'action="/patrol/plan"' in page and 'name="ward" value="E05000002"' in page
