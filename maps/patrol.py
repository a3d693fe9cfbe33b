"""The patrol view: one ward, its target cells labelled for the radio, the visiting order.

Built from a `layers.action.patrol.cells.patrol_cells` frame and the ward's boundary, nothing else:
the view carries cells, radio labels, scores and categories, never place names, notes, summaries or
intelligence grades. Every text drawn goes through `maps.style.escape` (folium renders element
output through Jinja a second time).
"""

from __future__ import annotations

import json

import folium
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo import h3index
from layers.action.patrol.cells import DWELL_MINUTES, tour_length_m
from maps import style
from maps._overlay import BOX, FixedHtml
from maps.basemap import add_base_map
from maps.overlays import WARD_STYLE
from maps.view import DEFAULT_CENTRE, DEFAULT_ZOOM, notice_html

ROUTE_STYLE = {"color": "#1f3a93", "weight": 3, "opacity": 0.85, "dash_array": "6 6"}
HEX_STYLE = {"weight": 1.5, "fillOpacity": 0.6, "opacity": 0.9}
_LABEL = ("white-space: nowrap; font: bold 12px/1.2 sans-serif; color: #111; "
          "background: rgba(255,255,255,0.85); border: 1px solid #333; border-radius: 3px; "
          "padding: 1px 4px; display: inline-block; transform: translate(10px, -50%);")


def _hex_style(feature: dict) -> dict:
    colour = feature["properties"]["colour"]
    return {**HEX_STYLE, "color": "#333333", "fillColor": colour}


def _ward_style(_feature: dict) -> dict:
    return WARD_STYLE


def _hexes(plan: pd.DataFrame) -> folium.GeoJson:
    """The target cells as one GeoJson of hexagons, shaded by score, with a tooltip."""
    polygons = h3index.cells_to_polygons(h3index.str_to_cells(plan["h3_cell"].to_numpy()))
    colours = style.score_colours(plan["score"].to_numpy(float))
    features = [
        {"type": "Feature", "id": i, "geometry": json.loads(shapely.to_geojson(poly)),
         "properties": {"order": int(row.order), "label": style.escape(row.label),
                        "cell": style.escape(row.h3_cell), "score": f"{row.score:.1f}",
                        "category": style.escape(row.category),
                        "dwell": f"{int(row.dwell_minutes)} min", "colour": str(colour)}}
        for i, (poly, row, colour) in enumerate(zip(polygons, plan.itertuples(), colours,
                                                    strict=True))
    ]
    tooltip = folium.GeoJsonTooltip(
        ["order", "label", "dwell", "score", "category", "cell"],
        aliases=["Visit", "Call sign", "Dwell", "Score", "Hot spot", "H3 cell"])
    return folium.GeoJson({"type": "FeatureCollection", "features": features},
                          name="Patrol cells", style_function=_hex_style, tooltip=tooltip)


def label_html(order: int, label: str) -> str:
    """The text on a target cell: its visiting order and radio label, escaped.

    Examples
    --------
    >>> label_html(1, "<b>Bravo 7</b>")  # doctest: +ELLIPSIS
    '<div class="placerisk-patrol-label" style="...">1 &lt;b&gt;Bravo 7&lt;/b&gt;</div>'
    """
    return (f'<div class="placerisk-patrol-label" style="{_LABEL}">'
            f"{int(order)} {style.escape(label)}</div>")


def plan_form_html(ward_code: str, *, top: int) -> str:
    """A form that turns the view into a shift's patrol plan (``/patrol/plan``)."""
    return ('<form method="get" action="/patrol/plan" class="placerisk-plan-form" '
            'style="margin-top: 6px; display: grid; gap: 3px;">'
            f'<b>Plan a shift</b><input type="hidden" name="ward" '
            f'value="{style.escape(ward_code)}"><input type="hidden" name="top" value="{top}">'
            '<label>Date <input type="date" name="date" required></label>'
            '<label>Start <input type="time" name="start" value="18:00"></label>'
            '<label>Hours <input type="number" name="hours" value="8" min="1" max="12"></label>'
            '<label>Officers <input type="number" name="officers" value="1" min="1" '
            'max="10"></label><button type="submit">Make the plan</button></form>')


def table_html(plan: pd.DataFrame, *, ward_code: str, independent: bool = True,
               plan_form: bool = False) -> str:
    """The side table: order, radio label, dwell and the share of the ward's score covered.

    ``independent`` tells whether the scores leave out patrol-discovered records;
    ``plan_form`` adds `plan_form_html` (served pages only: a file cannot ask the app).
    """
    low, high = DWELL_MINUTES
    source = ("Scores leave out patrol-discovered records." if independent
              else "Scores count patrol-discovered records.")
    head = (f"<b>Patrol view: ward {style.escape(ward_code)}</b>"
            f"<div>Short visits of {low}-{high} min at unpredictable times, repeated every "
            f"couple of hours. {source}</div>")
    if plan.empty:
        return (f'<div class="placerisk-patrol-table" style="{BOX} top: 10px; right: 10px; '
                'max-width: 320px;">'
                f"{head}<p>No cell of this ward scores above 0: nothing to patrol.</p></div>")
    rows = "".join(
        f"<tr><td>{int(r.order)}</td><td>{style.escape(r.label)}</td>"
        f"<td>{int(r.dwell_minutes)} min</td><td>{100 * r.share_of_ward_score:.1f}%</td></tr>"
        for r in plan.sort_values("order").itertuples())
    covered = float(plan["share_of_ward_score"].sum())
    cells = f"{len(plan)} cell{'s' * (len(plan) != 1)}"
    foot = (f"<tr><th colspan='2'>{cells}, {tour_length_m(plan) / 1000:.1f} km"
            f"</th><th>{int(plan['dwell_minutes'].sum())} min</th><th>{100 * covered:.1f}%"
            "</th></tr>")
    return (f'<div class="placerisk-patrol-table" style="{BOX} top: 10px; right: 10px; '
            f'max-width: 320px; max-height: 80vh; overflow-y: auto;">{head}'
            '<table style="border-collapse: collapse; margin-top: 4px;">'
            "<thead><tr><th>#</th><th>Call sign</th><th>Dwell</th><th>Share of ward score</th>"
            f"</tr></thead><tbody>{rows}</tbody><tfoot>{foot}</tfoot></table>"
            + (plan_form_html(ward_code, top=len(plan)) if plan_form else "") + "</div>")


def _fit(m: folium.Map, ward_geometry: BaseGeometry | None, plan: pd.DataFrame) -> None:
    if ward_geometry is not None and not ward_geometry.is_empty:
        lng0, lat0, lng1, lat1 = ward_geometry.bounds
    elif not plan.empty:
        lat0, lat1 = float(plan["lat"].min()), float(plan["lat"].max())
        lng0, lng1 = float(plan["lng"].min()), float(plan["lng"].max())
    else:
        return
    m.fit_bounds([[float(lat0), float(lng0)], [float(lat1), float(lng1)]])


def build_patrol_map(plan: pd.DataFrame, ward_geometry: BaseGeometry | None, *,
                     tiles: str | None, attribution: str | None = None,
                     ward_code: str = "", notice: str | None = None,
                     independent: bool = True, plan_form: bool = False) -> folium.Map:
    """Compose the patrol view of one ward; no database access.

    Parameters
    ----------
    plan
        A `layers.action.patrol.cells.patrol_cells` frame.
    ward_geometry
        The ward's boundary, a shapely (Multi)Polygon in EPSG:4326 ``(lng, lat)``, or
        ``None`` to draw no outline.
    tiles
        Tile URL template, ``"pmtiles"`` (the app's PMTiles file) or ``None`` for no base
        map (`maps.basemap.add_base_map`).
    attribution
        Attribution HTML for the tiles (configuration, not imported text: not escaped).
    ward_code
        Shown, escaped, in the side table's title.
    notice
        Text shown, escaped, in a banner across the map.
    independent
        Whether the plan's scores leave out patrol-discovered records (the default score);
        the side table says which.
    plan_form
        Add a form that makes a shift's patrol plan of these cells (served pages).

    Returns
    -------
    folium.Map
        The ward outline, the target hexagons labelled "order label", the visiting order as
        a line and a side table of order, label, dwell and share of the ward's score.
    """
    m = folium.Map(location=DEFAULT_CENTRE, zoom_start=DEFAULT_ZOOM, tiles=None,
                   control_scale=True)
    add_base_map(m, tiles, attribution=attribution)
    if ward_geometry is not None and not ward_geometry.is_empty:
        folium.GeoJson(json.loads(shapely.to_geojson(ward_geometry)), name="Ward",
                       style_function=_ward_style).add_to(m)
    if not plan.empty:
        _hexes(plan).add_to(m)
        ordered = plan.sort_values("order")
        points = np.column_stack([ordered["lat"].to_numpy(float),
                                  ordered["lng"].to_numpy(float)]).tolist()
        if len(points) > 1:
            folium.PolyLine(points, **ROUTE_STYLE).add_to(m)
        for row, point in zip(ordered.itertuples(), points, strict=True):
            icon = folium.DivIcon(html=label_html(row.order, row.label), icon_size=(0, 0),
                                  icon_anchor=(0, 0), class_name="placerisk-patrol-icon")
            folium.Marker(point, icon=icon).add_to(m)
    FixedHtml(table_html(plan, ward_code=ward_code, independent=independent,
                         plan_form=plan_form)).add_to(m)
    if notice:
        FixedHtml(notice_html(notice)).add_to(m)
    _fit(m, ward_geometry, plan)
    return m
