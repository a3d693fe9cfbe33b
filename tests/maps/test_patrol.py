from __future__ import annotations

import re

import folium
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import h3index
from layers.action.patrol.cells import patrol_cells
from maps.patrol import build_patrol_map, label_html, table_html
from maps.view import render_html
from tests._pages import page_text, without_data_payloads

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
TEMPLATE = "{{ 6*7 }}zz"
WARD = "E05000001"
BOX = shapely.box(-1.36, 54.54, -1.32, 54.58)
URL = re.compile(r"""(?:https?:)?//[^\s"'()<>]+""")


def make_plan(n: int = 6) -> pd.DataFrame:
    centre = h3index.latlng_to_cells(np.array([54.56]), np.array([-1.34]), resolution=9)
    ids = sorted(h3index.grid_disk(str(h3index.cells_to_str(centre)[0]), 2))
    cells = pd.DataFrame({"h3_cell": ids, "score": np.arange(len(ids), dtype=float),
                          "category": "persistent hot spot", "ward_code": WARD})
    return patrol_cells(cells, ward_code=WARD, top=n, seed=1)


def children(m: folium.Map, kind: type) -> list:
    return [c for c in m._children.values() if isinstance(c, kind)]


def test_map_parts() -> None:
    plan = make_plan()
    m = build_patrol_map(plan, BOX, tiles=None, attribution=None, ward_code=WARD)
    geojsons = children(m, folium.GeoJson)
    assert [g.layer_name for g in geojsons] == ["Ward", "Patrol cells"]
    ward, hexes = (g.data for g in geojsons)
    assert [f["geometry"]["type"] for f in ward["features"]] == ["Polygon"]
    features = hexes["features"]
    assert [f["properties"]["label"] for f in features] == plan["label"].tolist()
    assert [f["properties"]["order"] for f in features] == plan["order"].tolist()
    # hexagons are (lng, lat), around the plan's cell centres
    for f, lat, lng in zip(features, plan["lat"], plan["lng"], strict=True):
        centre = shapely.geometry.shape(f["geometry"]).centroid
        assert centre.x == pytest.approx(lng, abs=1e-4) and centre.y == pytest.approx(lat,
                                                                                     abs=1e-4)
    (line,) = children(m, folium.PolyLine)
    np.testing.assert_allclose(line.locations, plan[["lat", "lng"]].to_numpy())
    markers = children(m, folium.Marker)
    texts = [mk.icon.options["html"] for mk in markers]
    assert texts == [label_html(o, lb) for o, lb in zip(plan["order"], plan["label"],
                                                         strict=True)]
    assert all(f">{o} {lb}</div>" in t for t, o, lb in zip(texts, plan["order"], plan["label"],
                                                             strict=True))


def test_side_table_lists_order_label_dwell_and_share() -> None:
    plan = make_plan()
    html = render_html(build_patrol_map(plan, BOX, tiles=None, attribution=None,
                                        ward_code=WARD))
    assert "placerisk-patrol-table" in html and f"Patrol view: ward {WARD}" in html
    for row in plan.itertuples():
        assert (f"<tr><td>{row.order}</td><td>{row.label}</td><td>{row.dwell_minutes} min"
                f"</td><td>{100 * row.share_of_ward_score:.1f}%</td></tr>") in html
    covered = 100 * plan["share_of_ward_score"].sum()
    assert f"<th>{int(plan['dwell_minutes'].sum())} min</th><th>{covered:.1f}%</th>" in html
    assert "Scores leave out patrol-discovered records" in html


def test_table_says_when_scores_count_patrol_records() -> None:
    html = table_html(make_plan(), ward_code=WARD, independent=False)
    assert "Scores count patrol-discovered records" in html


def test_text_is_escaped() -> None:
    plan = make_plan(3)
    plan["label"] = [SCRIPT, IMG, TEMPLATE]
    plan["category"] = [TEMPLATE, SCRIPT, IMG]
    m = build_patrol_map(plan, BOX, tiles=None, attribution=None, ward_code=SCRIPT,
                         notice=TEMPLATE)
    html = render_html(m)
    assert SCRIPT not in html and IMG not in html
    assert "42zz" not in page_text(html)  # no template was evaluated
    assert "&lt;script&gt;" in html and "&#123;&#123; 6*7 &#125;&#125;zz" in html


def test_empty_plan() -> None:
    plan = make_plan().iloc[0:0]
    m = build_patrol_map(plan, BOX, tiles=None, attribution=None, ward_code=WARD)
    assert not children(m, folium.PolyLine) and not children(m, folium.Marker)
    assert "nothing to patrol" in render_html(m)
    # no outline and no cells: still a page
    assert "nothing to patrol" in render_html(build_patrol_map(plan, None, tiles=None,
                                                               attribution=None))


def test_single_cell_has_no_route_line() -> None:
    m = build_patrol_map(make_plan(1), BOX, tiles=None, attribution=None)
    assert not children(m, folium.PolyLine) and len(children(m, folium.Marker)) == 1
    assert "1 cell, 0.0 km" in render_html(m)


def test_map_fits_the_ward() -> None:
    m = build_patrol_map(make_plan(), BOX, tiles=None, attribution=None)
    html = render_html(m)
    assert "fitBounds" in html and "[54.54, -1.36]" in html.replace("\n", "")


def test_no_free_text_columns_are_drawn() -> None:
    plan = make_plan(3).assign(name=SCRIPT, notes="SECRET-NOTE", summary="SECRET-SUMMARY",
                               grade="1-A-P")
    html = render_html(build_patrol_map(plan, BOX, tiles=None, attribution=None))
    for word in ("SECRET-NOTE", "SECRET-SUMMARY", "1-A-P"):
        assert word not in page_text(html)
    assert "&lt;script&gt;" not in html


@pytest.mark.parametrize("standalone", [False, True])
def test_no_request_leaves_for_anything_but_the_tiles(standalone: bool) -> None:
    tiles = "https://tiles.example.internal/{z}/{x}/{y}.png"
    m = build_patrol_map(make_plan(), BOX, tiles=tiles, attribution="x")
    html = render_html(m, standalone=standalone)
    found = URL.findall(without_data_payloads(html))  # base64 may hold "//" by chance
    external = {u for u in found if "tiles.example.internal" not in u}
    assert external <= {"//leafletjs.com", "http://www.w3.org/2000/svg"}, external
    assert "cdn" not in page_text(html).lower()


def test_served_patrol_view_offers_a_plan_form() -> None:
    from maps.patrol import plan_form_html

    form = plan_form_html('E05"><script>', top=6)
    assert 'action="/patrol/plan"' in form and 'name="top" value="6"' in form
    assert "<script>" not in form and "&lt;script&gt;" in form
