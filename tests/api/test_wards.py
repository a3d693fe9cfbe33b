"""Ward index and profile pages."""

from __future__ import annotations

import html
from types import SimpleNamespace

from fastapi.testclient import TestClient

from api.services.wards import render_ward_html
from api.settings import Settings
from layers.store.engine import open_store

from .conftest import signed_client


def test_index_lists_every_ward_with_a_link(client: TestClient, synthetic: SimpleNamespace
                                            ) -> None:
    page = client.get("/wards").text
    for code, (name, _) in synthetic.BOXES.items():
        assert f'href="/wards/{code}"' in page and name in page


def test_profile_page_has_map_trend_places_and_rank(client: TestClient,
                                                    synthetic: SimpleNamespace) -> None:
    response = client.get("/wards/E05000002")
    assert response.status_code == 200
    page = response.text
    assert "South Box" in page and 'iframe src="/wards/E05000002/map"' in page
    assert "<svg" in page and "Ward score over time" in page
    assert "Rank</b> " in page and " of 2" in page
    assert "Places of concern" in page and "Recent activities and outcomes" in page
    assert synthetic.SCRIPT not in page and synthetic.IMG not in page
    assert html.escape(synthetic.SCRIPT) in page
    assert synthetic.NOTE not in page


def test_ward_map_is_a_leaflet_page(client: TestClient) -> None:
    response = client.get("/wards/E05000001/map")
    assert response.status_code == 200 and "leaflet" in response.text.lower()


def test_unknown_ward_is_404(client: TestClient) -> None:
    for route in ("/wards/E05999999", "/wards/E05999999/map"):
        response = client.get(route)
        assert response.status_code == 404 and "/wards" in response.text


def test_standalone_profile_embeds_its_map(client: TestClient) -> None:
    store = open_store(client.app.state.settings.db)
    try:
        page = render_ward_html(store, Settings(tiles="none"), "E05000002", standalone=True)
    finally:
        store.close()
    assert 'iframe srcdoc="' in page and "/static/vendor" not in page
    assert "data:text/javascript;base64," in page


def test_ward_page_shows_each_activity_measured_effect(client) -> None:
    page = client.get("/wards/E05000002").text
    assert "Measured effect" in page
    # the synthetic activities are too recent for a 90-day after window
    assert "too early to measure: Day 6 of 90 of the after window (it ends on 2025-09-12)" in \
        client.get("/wards/E05000002", params={"as_of": "2025-07-01"}).text


def test_police_see_no_outcome_column_analysts_do(client: TestClient) -> None:
    """An activity's outcome is analysts' free text: no column at all, not an empty one."""
    assert "<th>Outcome</th>" in client.get("/wards/E05000002").text
    police = signed_client(client.app.state.settings.db, role="police")
    page = police.get("/wards/E05000002")
    assert page.status_code == 200 and "Measured effect" in page.text
    assert "Outcome</th>" not in page.text
