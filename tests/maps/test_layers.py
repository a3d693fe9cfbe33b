"""The cell layers by score and by emerging hot spot category, their legend and tooltips."""

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
from layers import emerging
from layers.emerging import CATEGORIES
from maps import layers, style
from maps.view import build_map, legend_html, render_html

SCRIPT = "<script>alert(1)</script>"
HOT = [c for c in CATEGORIES if c.endswith("hot spot")]
COLD = [c for c in CATEGORIES if c.endswith("cold spot")]


def make_cells() -> pd.DataFrame:
    """One cell per category (17) around (54.56, -1.34), with scores and simple labels."""
    centre = h3index.latlng_to_cells(np.array([54.56]), np.array([-1.34]), resolution=9)
    first = str(h3index.cells_to_str(centre)[0])
    ids = [first, *sorted(set(h3index.grid_disk(first, 2)) - {first})][:len(CATEGORIES)]
    return pd.DataFrame({"h3_cell": ids, "score": np.linspace(0.0, 8.0, len(ids)),
                         "category": list(CATEGORIES),
                         "label": (["persistent", "emerging", ""] * 6)[:len(ids)],
                         "ward_code": "E05000001"})


def geojson_of(group: folium.FeatureGroup) -> folium.GeoJson:
    (found,) = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    return found


def tooltip_of(element: folium.GeoJson) -> folium.GeoJsonTooltip:
    (found,) = [c for c in element._children.values() if isinstance(c, folium.GeoJsonTooltip)]
    return found


def test_category_layer_draws_every_cell_with_a_pattern_in_one_geojson() -> None:
    cells = make_cells()
    group = layers.category_layer(cells)
    assert group.layer_name == "Hot spot categories" and group.show is False
    geojson = geojson_of(group)
    features = geojson.data["features"]
    assert [f["properties"]["category"] for f in features] == list(CATEGORIES[:-1])
    assert [f["properties"]["colour"] for f in features] == [
        style.CATEGORY_COLOURS[c] for c in CATEGORIES[:-1]]
    assert geojson.style_function(features[0])["fillColor"] == style.CATEGORY_COLOURS[
        emerging.NEW_HOT]
    assert {f["properties"]["cell"] for f in features} == set(cells["h3_cell"][:-1])


def test_category_layer_without_patterns_is_empty() -> None:
    cells = make_cells().assign(category=emerging.NO_PATTERN)
    group = layers.category_layer(cells)
    assert not [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    assert not layers.category_layer(make_cells().iloc[:0])._children


@pytest.mark.parametrize("builder", [layers.cell_layer, layers.category_layer])
def test_tooltips_show_score_category_and_label(builder) -> None:
    geojson = geojson_of(builder(make_cells()))
    assert tooltip_of(geojson).fields == ["cell", "score", "category", "label", "ward"]
    props = geojson.data["features"][1]["properties"]
    assert (props["score"], props["category"], props["label"]) == (
        "0.5", emerging.CONSECUTIVE_HOT, "emerging")
    assert geojson.data["features"][2]["properties"]["label"] == layers.NO_LABEL


def test_cell_layer_without_labels() -> None:
    cells = make_cells().drop(columns="label")
    props = geojson_of(layers.cell_layer(cells)).data["features"][0]["properties"]
    assert props["label"] == layers.NO_LABEL


def test_tooltip_text_is_escaped() -> None:
    cells = make_cells().assign(ward_code=SCRIPT, label=SCRIPT)
    for builder in (layers.cell_layer, layers.category_layer):
        props = geojson_of(builder(cells)).data["features"][0]["properties"]
        assert props["ward"] == props["label"] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_category_colours_hot_red_cold_blue() -> None:
    assert set(style.CATEGORY_COLOURS) == set(CATEGORIES) - {emerging.NO_PATTERN}
    assert style.category_colour(emerging.NO_PATTERN) is None

    def rgb(colour: str) -> tuple[int, int, int]:
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)

    for category in HOT:
        r, g, b = rgb(style.CATEGORY_COLOURS[category])
        assert r > max(g, b), category  # reds and oranges
    for category in COLD:
        r, g, b = rgb(style.CATEGORY_COLOURS[category])
        assert b > max(r, g), category  # blues
    assert len(set(style.CATEGORY_COLOURS.values())) == 16
    lightness = [sum(rgb(style.CATEGORY_COLOURS[c])) for c in (
        emerging.INTENSIFYING_HOT, emerging.PERSISTENT_HOT, emerging.NEW_HOT,
        emerging.SPORADIC_HOT, emerging.HISTORICAL_HOT)]
    assert lightness == sorted(lightness)  # darker for the more pressing


@pytest.mark.parametrize("category", ["hot", "", None, "NEW HOT SPOT"])
def test_unknown_category_raises(category: object) -> None:
    with pytest.raises(ValueError, match="unknown hot spot category"):
        style.category_colour(category)  # type: ignore[arg-type]


def test_legend_lists_the_categories_shown_in_order() -> None:
    shown = [emerging.PERSISTENT_COLD, emerging.NO_PATTERN, emerging.NEW_HOT,
             emerging.NEW_HOT]
    legend = legend_html(4.0, categories=shown)
    assert "Hot spot categories" in legend and "Cell score" in legend
    assert legend.index(emerging.NEW_HOT) < legend.index(emerging.PERSISTENT_COLD)
    assert emerging.NO_PATTERN not in legend and emerging.PERSISTENT_HOT not in legend
    assert style.CATEGORY_COLOURS[emerging.NEW_HOT] in legend
    assert "Hot spot categories" not in legend_html(4.0)


def test_map_has_both_cell_layers_and_their_legends() -> None:
    areas = gpd.GeoDataFrame({"code": ["E05000001"], "name": [SCRIPT],
                              "authority_name": ["Stockton-on-Tees"]},
                             geometry=[shapely.box(-1.35, 54.55, -1.325, 54.60)],
                             crs="EPSG:4326")
    places = pd.DataFrame(columns=["name", "category", "address", "mace_level", "lat", "lng"])
    page = render_html(build_map(areas, make_cells(), places, tiles=None, client=False))
    for text in ("Cell scores", "Hot spot categories", *CATEGORIES[:-1]):
        assert text in page, text
    assert SCRIPT not in page
    (name,) = re.findall(r'"code": "E05000001", "name": "([^"]*)"', page)
    assert json.loads(f'"{name}"') == "&lt;script&gt;alert(1)&lt;/script&gt;"
    # one GeoJson per layer: wards, scores, categories
    assert len(re.findall(r"L\.geoJson\(", page)) == 3


def test_cells_drawn_in_the_browser_send_ids_not_polygons() -> None:
    from maps import hexes

    areas = gpd.GeoDataFrame({"code": ["{{ 6*7 }}</script>"], "name": ["x"],
                              "authority_name": ["y"]},
                             geometry=[shapely.box(-1.35, 54.55, -1.325, 54.60)],
                             crs="EPSG:4326")
    cells = make_cells().assign(ward_code="{{ 6*7 }}</script>")
    places = pd.DataFrame(columns=["name", "category", "address", "mace_level", "lat", "lng"])
    m = build_map(areas, cells, places, tiles=None, client=True)
    page = render_html(m)
    assert m.needs_h3js and "/static/vendor/h3-js/h3-js.umd.js" in page
    assert "h3.cellToBoundary" in page and "textContent" in page
    assert len(re.findall(r"L\.geoJson\(", page)) == 1  # the wards only
    payload = json.loads(hexes.payload_json(cells))
    assert payload["cells"] == cells["h3_cell"].tolist()
    assert "</script>" not in hexes.payload_json(cells)
    assert payload["wards"] == ["{{ 6*7 }}</script>"]  # text, not markup or template
