"""The cell layers by score and by emerging hot spot category, their legend and tooltips."""

from __future__ import annotations

import datetime as dt
import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import h3index
from layers.hotspots import emerging
from layers.hotspots.emerging import CATEGORIES
from maps import overlays, style
from maps.view import build_map, legend_html, render_html
from tests._pages import page_text

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
    group = overlays.category_layer(cells)
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
    group = overlays.category_layer(cells)
    assert not [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    assert not overlays.category_layer(make_cells().iloc[:0])._children


@pytest.mark.parametrize("builder", [overlays.cell_layer, overlays.category_layer])
def test_tooltips_show_score_category_and_label(builder) -> None:
    geojson = geojson_of(builder(make_cells()))
    assert tooltip_of(geojson).fields == ["cell", "score", "category", "label", "ward"]
    props = geojson.data["features"][1]["properties"]
    assert (props["score"], props["category"], props["label"]) == (
        "0.5", emerging.CONSECUTIVE_HOT, "emerging")
    assert geojson.data["features"][2]["properties"]["label"] == overlays.NO_LABEL


def test_cell_layer_without_labels() -> None:
    cells = make_cells().drop(columns="label")
    props = geojson_of(overlays.cell_layer(cells)).data["features"][0]["properties"]
    assert props["label"] == overlays.NO_LABEL


def test_tooltip_text_is_escaped() -> None:
    cells = make_cells().assign(ward_code=SCRIPT, label=SCRIPT)
    for builder in (overlays.cell_layer, overlays.category_layer):
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
    assert "\\u007b\\u007b 6*7 }}\\u003c/script>" in page and "42</script>" not in page


def test_search_index_is_text_in_the_page() -> None:
    from maps.search import search_index

    areas = gpd.GeoDataFrame({"code": ["E05000001"], "name": ["{{ 6*7 }}zz"],
                              "authority_name": ["y"]},
                             geometry=[shapely.box(-1.35, 54.55, -1.325, 54.60)],
                             crs="EPSG:4326")
    places = pd.DataFrame({"name": ["<img src=x onerror=alert(1)>"], "category": ["shop"],
                           "address": [""], "mace_level": [3], "lat": [54.57], "lng": [-1.34]})
    entries = search_index(places, areas)
    assert [e["k"] for e in entries] == ["place", "ward"]
    assert entries[1]["b"] == [[54.55, -1.35], [54.6, -1.325]]
    page = render_html(build_map(areas, make_cells(), places, tiles=None))
    assert "placerisk-search" in page and "textContent = item.t" in page
    assert "42zz" not in page_text(page) and "<img src=x" not in page


# --- wards by rank, activities, police.uk crime ------------------------------------------

IMG = "<img src=x onerror=alert(1)>"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def make_areas(name: str = SCRIPT) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["E05000001", "E05000002", "E05000003"],
                             "name": [name, "South", "East"], "authority_name": "Stockton"},
                            geometry=[shapely.box(-1.35, 54.55, -1.325, 54.60),
                                      shapely.box(-1.325, 54.55, -1.30, 54.60),
                                      shapely.box(-1.30, 54.55, -1.275, 54.60)],
                            crs="EPSG:4326")


def make_ranking() -> pd.DataFrame:
    """Two of the three areas ranked; the third is not in the run."""
    return pd.DataFrame({"ward_code": ["E05000002", "E05000001"], "name": ["South", SCRIPT],
                         "rank": [1, 2], "current": [7.25, 1.0],
                         "direction": ["increasing", "no trend"]})


def make_activities() -> pd.DataFrame:
    return pd.DataFrame({
        "activity_type": ["street_patrol", "premises_closure", "licensing_visit"],
        "started_at": [dt.datetime(2025, 6, 20, 21), dt.datetime(2025, 6, 1, 9),
                       dt.datetime(2025, 5, 2)],
        "agency": ["Police", SCRIPT, "Council"],
        "outcome": [IMG, "closed {{ 6*7 }}", None],
        "jag_ref": ["JAG-1", "JAG-2", "JAG-3"],
        "lat": [54.56, 54.58, None], "lng": [-1.33, -1.31, None],
    }, dtype=object)


def make_incidents() -> pd.DataFrame:
    ids = make_cells()["h3_cell"][:2].tolist()
    return pd.DataFrame({"h3_cell": ids, "count": [17, 1],
                         "top_types": [[("Violence", 12), (SCRIPT, 5)], [("Drugs", 1)]]})


def test_ward_layer_fills_ranked_wards_darker_for_higher_ranks() -> None:
    geojson = geojson_of(overlays.ward_layer(make_areas(), ranking=make_ranking()))
    props = [f["properties"] for f in geojson.data["features"]]
    assert [p["rank"] for p in props] == ["2 of 2", "1 of 2", "not ranked"]
    assert [p["score"] for p in props] == ["1.0", "7.2", ""]
    assert [p["trend"] for p in props] == ["no trend", "increasing", ""]
    assert props[0]["name"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert props[1]["shade"] == style.RANK_RAMP[-1] and props[2]["shade"] is None
    assert props[0]["shade"] != props[1]["shade"]
    styles = [geojson.style_function(f) for f in geojson.data["features"]]
    assert styles[1]["fillColor"] == style.RANK_RAMP[-1] and styles[1]["fill"] is True
    assert styles[2] == overlays.WARD_STYLE
    assert tooltip_of(geojson).fields == ["name", "code", "authority", "rank", "score",
                                          "trend"]


def test_ward_layer_without_a_run_is_outlines_only() -> None:
    for ranking in (None, make_ranking().iloc[:0]):
        geojson = geojson_of(overlays.ward_layer(make_areas(), ranking=ranking))
        assert "rank" not in geojson.data["features"][0]["properties"]
        assert geojson.style_function(geojson.data["features"][0]) == overlays.WARD_STYLE
    assert not overlays.ward_layer(make_areas().iloc[:0], ranking=make_ranking())._children


def test_rank_colours_darker_for_higher_ranks() -> None:
    colours = style.rank_colours(np.arange(1, 28), of=27).tolist()
    assert colours[0] == style.RANK_RAMP[-1] and colours[-1] == style.RANK_RAMP[0]
    order = [style.RANK_RAMP.index(c) for c in colours]
    assert order == sorted(order, reverse=True)


def test_activity_layer_draws_located_activities_by_type_with_escaped_popups() -> None:
    group = overlays.activity_layer(make_activities())
    assert group.layer_name == overlays.ACTIVITY_LAYER and group.show is False
    geojson = geojson_of(group)
    props = [f["properties"] for f in geojson.data["features"]]
    assert len(props) == 2  # the one without coordinates is skipped
    assert [p["type"] for p in props] == ["street patrol", "premises closure"]
    assert [p["started"] for p in props] == ["2025-06-20", "2025-06-01"]
    assert props[0]["outcome"] == IMG_ESCAPED
    assert props[1]["outcome"] == "closed &#123;&#123; 6*7 &#125;&#125;"
    assert props[1]["agency"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert [p["colour"] for p in props] == [style.ACTIVITY_COLOURS["street_patrol"],
                                            style.ACTIVITY_COLOURS["premises_closure"]]
    (popup,) = [c for c in geojson._children.values() if isinstance(c, folium.GeoJsonPopup)]
    assert popup.fields == ["type", "started", "agency", "outcome", "jag_ref"]


def test_activity_layer_without_located_activities_is_empty() -> None:
    assert not overlays.activity_layer(make_activities().iloc[2:])._children
    assert not overlays.activity_layer(make_activities().iloc[:0])._children


def test_activity_palette_covers_every_type() -> None:
    from layers.records.activities import ACTIVITY_TYPES

    assert set(style.ACTIVITY_COLOURS) == set(ACTIVITY_TYPES)
    assert len(set(style.ACTIVITY_COLOURS.values())) == len(ACTIVITY_TYPES)
    assert style.activity_colour("unknown") == style.ACTIVITY_COLOURS["other"]


def test_incident_layer_is_one_geojson_of_hexagons_with_escaped_summaries() -> None:
    group = overlays.incident_layer(make_incidents())
    assert group.layer_name == "police.uk crime (context)" and group.show is False
    geojson = geojson_of(group)
    features = geojson.data["features"]
    assert {f["geometry"]["type"] for f in features} == {"Polygon"}
    assert features[0]["properties"]["tip"] == (
        "17 crimes (police.uk, area-level): Violence 12, "
        "&lt;script&gt;alert(1)&lt;/script&gt; 5")
    assert features[1]["properties"]["tip"] == "1 crime (police.uk, area-level): Drugs 1"
    assert features[0]["properties"]["colour"] == style.INCIDENT_RAMP[-1]
    assert geojson.style_function(features[1])["fillColor"] == style.INCIDENT_RAMP[0]
    assert not overlays.incident_layer(make_incidents().iloc[:0])._children


def test_map_with_rank_activities_and_crime_layers_and_legend() -> None:
    places = pd.DataFrame(columns=["name", "category", "address", "mace_level", "lat", "lng"])
    page = render_html(build_map(make_areas(), make_cells(), places, tiles=None,
                                 client=False, ranking=make_ranking(),
                                 activities=make_activities(), incidents=make_incidents()))
    for text in ("Disruption activities", "police.uk crime (context)", "Ward rank",
                 "street patrol", "premises closure", "crimes per cell", "1 of 2"):
        assert text in page, text
    assert "licensing visit" not in page  # not located, not drawn, not in the legend
    assert SCRIPT not in page and IMG not in page and "closed 42" not in page
    # one GeoJson per layer: wards, crime, scores, categories, activities
    assert len(re.findall(r"L\.geoJson\(", page)) == 5


def test_legend_lists_activity_types_and_crime_steps_only_when_drawn() -> None:
    legend = legend_html(4.0, activity_types=["other", "street_patrol"], incident_max=10)
    assert legend.index("street patrol") < legend.index(">other<")
    assert style.INCIDENT_RAMP[-1] in legend and "8 - 10" in legend
    assert "Disruption activities" not in legend_html(4.0)
    assert "crimes per cell" not in legend_html(4.0)


def test_time_slider_payload_carries_states_of_significant_cells_only() -> None:
    from maps import hexes

    cells = make_cells()
    states = pd.DataFrame({"h3_cell": [cells["h3_cell"].iloc[0]], "states": ["..hc"]})
    payload = json.loads(hexes.payload_json(cells, states=states,
                                            step_labels=["a", "b", "c", "d"]))
    assert payload["states"] == [[cells["h3_cell"].iloc[0], "..hc"]]
    assert payload["steps"] == ["a", "b", "c", "d"]
    assert "states" not in json.loads(hexes.payload_json(cells))
    groups, _ = hexes.hex_layers(cells, states=states, step_labels=["a", "b", "c", "d"])
    assert [g.layer_name for g in groups][-1] == hexes.STEPS_LAYER
