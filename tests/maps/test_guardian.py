"""The guardian map builder: banded cells, suppressed outlines, protective places, legend."""

from __future__ import annotations

import datetime as dt

import folium
import pandas as pd
import pytest

from layers.access.disclosure import NOT_SHOWN
from maps import guardian
from maps.guardian import build_guardian_map
from maps.view import render_html
from tests._pages import page_text

SHOWN, HIDDEN = "871946558ffffff", "87194655bffffff"
SCRIPT = "<script>alert(1)</script>"
TEMPLATE = "{{ 6*7 }}zz"


def make_cells() -> pd.DataFrame:
    return pd.DataFrame({"h3_cell": [SHOWN, HIDDEN], "places_band": ["5-9", NOT_SHOWN],
                         "concern_band": ["medium", NOT_SHOWN], "shown": [True, False]})


def make_protective() -> pd.DataFrame:
    return pd.DataFrame({"category": ["youth_leisure_venue"], "label": ["Youth or leisure venue"],
                         "lat": [54.57], "lng": [-1.34]})


def geojsons(m: folium.Map) -> dict[str, folium.GeoJson]:
    out = {}
    for group in m._children.values():
        if isinstance(group, folium.FeatureGroup):
            (gj,) = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
            out[group.layer_name] = gj
    return out


@pytest.fixture
def page() -> str:
    return render_html(build_guardian_map(make_cells(), make_protective(), tiles=None))


def test_cells_are_one_geojson_shown_by_band_suppressed_outlined() -> None:
    m = build_guardian_map(make_cells(), make_protective(), tiles=None)
    cells = geojsons(m)[guardian.CELL_LAYER]
    shown, hidden = cells.data["features"]
    assert shown["properties"]["places"] == "5-9"
    assert shown["properties"]["colour"] == guardian.band_colours()["5-9"]
    assert cells.style_function(shown)["fillColor"] == guardian.band_colours()["5-9"]
    assert hidden["properties"]["places"] == "not shown (fewer than 5 places)"
    assert hidden["properties"]["concern"] == NOT_SHOWN
    assert cells.style_function(hidden) == guardian.SUPPRESSED_STYLE
    assert cells.style_function(hidden)["dashArray"]


def test_the_tooltip_names_the_configured_k() -> None:
    cells = make_cells().assign(places_band=["3-4", NOT_SHOWN])
    m = build_guardian_map(cells, make_protective(), tiles=None, k=3)
    hidden = geojsons(m)[guardian.CELL_LAYER].data["features"][1]
    assert hidden["properties"]["places"] == "not shown (fewer than 3 places)"


def test_protective_places_are_green_markers_with_their_category() -> None:
    m = build_guardian_map(make_cells(), make_protective(), tiles=None)
    places = geojsons(m)[guardian.PROTECTIVE_LAYER]
    (feature,) = places.data["features"]
    assert feature["geometry"]["coordinates"] == [-1.34, 54.57]
    assert feature["properties"] == {"label": "Youth or leisure venue",
                                     "category": "youth leisure venue"}
    assert isinstance(places.marker, folium.CircleMarker)
    assert places.style_function(feature)["fillColor"] == guardian.PROTECTIVE_COLOUR


def test_legend_and_notice(page: str) -> None:
    for text in ("placerisk-legend", "placerisk-notice", "5-9", "10-19", "20+",
                 "not shown (fewer than 5 places)", "Aggregated view", "Protective places",
                 "L.control.layers"):
        assert text in page
    assert "cdn" not in page_text(page).lower()


def test_period_is_in_the_legend() -> None:
    html = render_html(build_guardian_map(make_cells(), make_protective(), tiles=None,
                                          period="2025-01-27 to 2025-04-27"))
    assert "Period: 2025-01-27 to 2025-04-27" in html
    assert "No concern bands yet" not in html


def test_no_complete_period_is_said_not_left_blank() -> None:
    """13 real weeks (2024-01-01 to 2024-03-31) straddle two fixed blocks: say why no bands."""
    from layers.access.disclosure import fixed_period
    from layers.hotspots.cube import make_steps

    steps = make_steps(dt.date(2024, 3, 31), kind="week", count=13)
    assert fixed_period(steps, as_of=dt.date(2024, 3, 31)) is None
    html = render_html(build_guardian_map(make_cells(), make_protective(), tiles=None,
                                          period=None))
    assert "No concern bands yet: they need a whole fixed period (13 weeks" in page_text(html)


def test_text_is_escaped() -> None:
    protective = make_protective().assign(label=[SCRIPT + TEMPLATE])
    html = render_html(build_guardian_map(make_cells(), protective, tiles=None))
    assert SCRIPT not in html and TEMPLATE not in html and "42zz" not in page_text(html)
    assert "alert(1)" in html


def test_empty_frames_still_make_a_map() -> None:
    m = build_guardian_map(make_cells().iloc[:0], make_protective().iloc[:0], tiles=None)
    assert "L.control.layers" in render_html(m)


def test_map_fits_the_cells() -> None:
    m = build_guardian_map(make_cells(), make_protective(), tiles=None)
    (bounds,) = [c for c in m._children.values() if isinstance(c, folium.map.FitBounds)]
    (lat0, lng0), (lat1, lng1) = bounds.bounds
    assert 54.5 < lat0 < lat1 < 54.65 and -1.4 < lng0 < lng1 < -1.25


@pytest.mark.parametrize(("tiles", "present"), [(None, False),
                                                ("https://tile.example.org/{z}/{x}/{y}.png",
                                                 True)])
def test_tiles(tiles: str | None, present: bool) -> None:
    html = render_html(build_guardian_map(make_cells(), make_protective(), tiles=tiles,
                                          attribution="&copy; Test tiles"))
    assert ("tile.example.org" in html) is present


def test_without_tiles_ward_outlines_over_a_plain_background() -> None:
    from tests.api.conftest import make_areas

    m = build_guardian_map(make_cells(), make_protective(), tiles=None, areas=make_areas())
    assert "Wards" in geojsons(m)
    html = render_html(m)
    assert "North Box" in html and "South Box" in html
    assert "background: #f2f1ec" in html and "tileLayer" not in html
    tiled = render_html(build_guardian_map(make_cells(), make_protective(),
                                           tiles="https://tile.example.org/{z}/{x}/{y}.png",
                                           attribution="&copy; Test tiles"))
    assert "background: #f2f1ec" not in tiled
