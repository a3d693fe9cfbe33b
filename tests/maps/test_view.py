from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import h3index
from maps import assets, overlays, style
from maps.view import build_map, render_html
from tests._pages import page_text, without_data_payloads
from tests.conftest import missing

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{ 6*7 }}zz"
TILES = "https://tile.example.org/{z}/{x}/{y}.png"


def make_areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["E05000001", "E05000002"], "name": ["North Box", IMG],
         "authority_name": ["Stockton-on-Tees", "Stockton-on-Tees"]},
        geometry=[shapely.box(-1.35, 54.55, -1.325, 54.60),
                  shapely.box(-1.325, 54.55, -1.30, 54.60)],
        crs="EPSG:4326")


def make_cells(k: int = 1) -> pd.DataFrame:
    """The cells within ``k`` steps of the cell at (54.56, -1.34), centre first."""
    centre = h3index.latlng_to_cells(np.array([54.56]), np.array([-1.34]), resolution=9)
    first = str(h3index.cells_to_str(centre)[0])
    ids = [first, *sorted(set(h3index.grid_disk(first, k)) - {first})]
    n = len(ids)
    return pd.DataFrame({"h3_cell": ids, "score": np.linspace(0.0, 8.0, n),
                         "category": "no pattern", "ward_code": "E05000001"})


def make_places() -> pd.DataFrame:
    return pd.DataFrame({
        "name": ["Safe Youth Club", SCRIPT, IMG, TEMPLATE, "Nowhere Cafe"],
        "category": ["youth_leisure_venue", "takeaway", "park_open_space", "other", "shop"],
        "address": [None, IMG, "1 High St", None, None],
        "mace_level": [1, 4, 3, 2, 2],
        "lat": [54.57, 54.58, 54.56, 54.575, None],
        "lng": [-1.34, -1.31, -1.33, -1.32, None],
    })


def geojsons(group: folium.FeatureGroup) -> list[folium.GeoJson]:
    return [c for c in group._children.values() if isinstance(c, folium.GeoJson)]


def child(element: folium.GeoJson, kind: type) -> object:
    (found,) = [c for c in element._children.values() if isinstance(c, kind)]
    return found


@pytest.fixture
def page() -> str:
    m = build_map(make_areas(), make_cells(), make_places(), tiles=None,
                  notice=f"Synthetic demo data {SCRIPT}")
    return render_html(m)


# --- the whole map ---------------------------------------------------------------------

def test_map_has_layers_control_and_legend(page: str) -> None:
    for text in ("Wards", "Cell scores", "Places (MACE level)", "L.control.layers",
                 "placerisk-legend", "High concern", "No concern", "Cell score"):
        assert text in page
    assert "Safe Youth Club" in page and "North Box" in page


def test_imported_text_is_escaped(page: str) -> None:
    assert SCRIPT not in page
    assert IMG not in page
    assert "<img src=x" not in page
    assert "alert(1)" in page
    assert TEMPLATE not in page and "42zz" not in page_text(page)


def test_notice_is_shown_escaped(page: str) -> None:
    assert "Synthetic demo data &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_notice_by_default() -> None:
    html = render_html(build_map(make_areas(), make_cells(), make_places(), tiles=None))
    assert "placerisk-notice" not in html


@pytest.mark.parametrize(("tiles", "present"), [(None, False), (TILES, True)])
def test_tiles(tiles: str | None, present: bool) -> None:
    m = build_map(make_areas(), make_cells(), make_places(), tiles=tiles,
                  attribution="&copy; Test tiles")
    html = render_html(m)
    assert ("tile.example.org" in html) is present
    assert ("Test tiles" in html) is present


def test_empty_frames_still_make_a_map() -> None:
    areas = make_areas().iloc[:0]
    m = build_map(areas, make_cells().iloc[:0], make_places().iloc[:0], tiles=None)
    assert "L.control.layers" in render_html(m)


def test_map_fits_the_areas() -> None:
    m = build_map(make_areas(), make_cells(), make_places(), tiles=None)
    bounds = [c for c in m._children.values() if isinstance(c, folium.map.FitBounds)]
    assert bounds[0].bounds == [[54.55, -1.35], [54.60, -1.30]]


# --- layers ------------------------------------------------------------------------------

def test_cells_are_one_geojson_keyed_on_colour() -> None:
    cells = make_cells(3)
    (geojson,) = geojsons(overlays.cell_layer(cells))
    features = geojson.data["features"]
    assert len(features) == len(cells) == 37
    colours = style.score_colours(cells["score"].to_numpy())
    assert [f["properties"]["colour"] for f in features] == colours.tolist()
    assert geojson.style_function(features[-1])["fillColor"] == colours[-1]


def test_cell_polygons_are_lng_lat() -> None:
    cells = make_cells(0)
    (geojson,) = geojsons(overlays.cell_layer(cells))
    ring = np.array(geojson.data["features"][0]["geometry"]["coordinates"][0])
    assert geojson.data["features"][0]["geometry"]["type"] == "Polygon"
    np.testing.assert_allclose(ring.mean(axis=0), [-1.34, 54.56], atol=0.005)


def test_places_are_circle_markers_coloured_by_level() -> None:
    (geojson,) = geojsons(overlays.place_layer(make_places()))
    assert isinstance(geojson.marker, folium.CircleMarker)
    features = geojson.data["features"]
    assert len(features) == 4  # the place without coordinates is left out
    assert [f["properties"]["level"] for f in features] == [1, 4, 3, 2]
    assert [f["properties"]["meaning"] for f in features] == [
        "No concern", "High concern", "Some concern", "Low concern"]
    fills = [geojson.style_function(f)["fillColor"] for f in features]
    assert fills == [style.LEVEL_COLOURS[lv] for lv in (1, 4, 3, 2)]
    assert features[1]["properties"]["name"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert features[0]["geometry"]["coordinates"] == [-1.34, 54.57]
    assert child(geojson, folium.GeoJsonPopup).fields == [
        "name", "category", "address", "level", "meaning"]


def test_ward_tooltip_fields() -> None:
    (geojson,) = geojsons(overlays.ward_layer(make_areas()))
    assert child(geojson, folium.GeoJsonTooltip).fields == ["name", "code", "authority"]
    names = [f["properties"]["name"] for f in geojson.data["features"]]
    assert names == ["North Box", "&lt;img src=x onerror=alert(1)&gt;"]


# --- style -------------------------------------------------------------------------------

def test_level_colours_run_green_to_red() -> None:
    assert [style.level_colour(lv) for lv in (1, 2, 3, 4)] == [
        "#1a9641", "#f4d03f", "#fd8d3c", "#d7191c"]


@pytest.mark.parametrize("level", [0, 5, None, "high", 2.5])
def test_bad_level_raises(level: object) -> None:
    with pytest.raises(ValueError, match="MACE level"):
        style.level_colour(level)  # type: ignore[arg-type]


def test_score_ramp() -> None:
    colours = style.score_colours(np.array([0.0, 0.5, 2.0, 2.1, 9.9, 10.0, 50.0]), vmax=10.0)
    assert colours.tolist() == [style.ZERO_SCORE_COLOUR, *style.SCORE_RAMP[:1],
                                style.SCORE_RAMP[0], style.SCORE_RAMP[1],
                                style.SCORE_RAMP[4], style.SCORE_RAMP[4], style.SCORE_RAMP[4]]
    assert style.score_colours(np.array([])).tolist() == []


@pytest.mark.parametrize(("text", "escaped"), [
    (SCRIPT, "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ('a "b" & c', "a &quot;b&quot; &amp; c"),
    ("`x` {{ y }}", "&#96;x&#96; &#123;&#123; y &#125;&#125;"),
    (None, ""),
    (float("nan"), ""),
])
def test_escape(text: object, escaped: str) -> None:
    assert style.escape(text) == escaped


URL = re.compile(r"""(?:https?:)?//[^\s"'()<>]+""")


@pytest.mark.parametrize("standalone", [False, True])
def test_no_request_leaves_for_anything_but_the_tiles(standalone):
    tiles = "https://tiles.example.internal/{z}/{x}/{y}.png"
    html = render_html(build_map(make_areas(), make_cells(), make_places(), tiles=tiles,
                                 attribution="x"),
                       standalone=standalone)
    found = URL.findall(without_data_payloads(html))  # base64 may hold "//" by chance
    external = {u for u in found if not u.startswith(tiles.split("{")[0])}
    assert external <= {"//leafletjs.com", "http://www.w3.org/2000/svg"}, external
    if standalone:
        assert "data:text/javascript;base64," in html
    else:
        assert f'src="{assets.ROUTE}/leaflet.js"' in html


def test_vendored_leaflet_is_installed():
    folder = assets.leaflet_dir()
    assert (folder / "leaflet.js").stat().st_size > 100_000
    assert assets.LEAFLET_VERSION in (folder / "leaflet.js").read_text()[:300]


def test_places_are_clustered_by_worst_level() -> None:
    from maps.cluster import ClusterPoints

    m = build_map(make_areas(), make_cells(), make_places(), tiles=None)
    group = next(c for c in m._children.values()
                 if isinstance(c, folium.FeatureGroup) and c.layer_name.startswith("Places"))
    (cluster,) = [c for c in group._children.values() if isinstance(c, ClusterPoints)]
    (shapes,) = geojsons(group)
    assert cluster.layer == shapes.get_name() and cluster.group == group.get_name()
    assert json.loads(cluster.colours) == {str(lv): style.level_colour(lv) for lv in (1, 2, 3, 4)}
    served = render_html(m)
    assert "L.markerClusterGroup(" in served and "getAllChildMarkers" in served
    if assets.markercluster_dir() is None:
        missing("leaflet.markercluster is not vendored (make install puts it in vendor/)")
    assert f'src="{assets.CLUSTER_ROUTE}/leaflet.markercluster.js"' in served
    assert f'href="{assets.CLUSTER_ROUTE}/MarkerCluster.css"' in served
    standalone = render_html(build_map(make_areas(), make_cells(), make_places(), tiles=None),
                             standalone=True)
    assert assets.CLUSTER_ROUTE not in standalone and standalone.count("data:text/css") == 2


def test_place_layer_is_not_clustered_unless_asked() -> None:
    from maps.cluster import ClusterPoints

    group = overlays.place_layer(make_places())
    assert not any(isinstance(c, ClusterPoints) for c in group._children.values())
