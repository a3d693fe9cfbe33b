"""The guardian map: banded resolution-7 cells and protective places, nothing more.

Drawn only from the output of `layers.access.disclosure`: shown cells are filled in purples by
place-count band (a ramp apart from the analysts' yellow-to-red scores, so the two maps are
not mistaken for each other); suppressed cells are drawn as dashed grey outlines with the
tooltip "not shown (fewer than k places)"; protective places are green circles labelled
with their generic category. Ward outlines (public boundaries) give the bearings a base map
would: by default the guardian view has none (`api.settings.Settings.guardian_tiles`), so
that no tile server learns which areas guardians look at. Every text goes through
`maps.style.escape`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import h3index
from layers.access import disclosure
from maps import style
from maps._overlay import BOX, FixedHtml
from maps.basemap import add_base_map, plain_background
from maps.overlays import ward_layer
from maps.view import DEFAULT_CENTRE, DEFAULT_ZOOM, notice_html

BAND_RAMP = ("#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486")
SUPPRESSED_COLOUR = "#9e9e9e"
PROTECTIVE_COLOUR = "#1a9641"
SHOWN_STYLE = {"weight": 1, "opacity": 0.9, "fillOpacity": 0.55}
SUPPRESSED_STYLE = {"color": SUPPRESSED_COLOUR, "weight": 1.5, "opacity": 0.9,
                    "dashArray": "4 4", "fillColor": SUPPRESSED_COLOUR, "fillOpacity": 0.08}
CELL_LAYER = "Areas (banded)"
PROTECTIVE_LAYER = "Protective places"
NOTICE = ("Aggregated view for community guardians: areas of about 5 km2, counts in bands, "
          "areas with fewer than {k} places of concern not shown")



def band_colours(k: int = disclosure.DEFAULT_K) -> dict[str, str]:
    """The fill colour of each place-count band, darkest for the highest.

    Examples
    --------
    >>> band_colours(5)
    {'5-9': '#807dba', '10-19': '#6a51a3', '20+': '#4a1486'}
    """
    labels = disclosure.band_labels(k)
    return dict(zip(labels, BAND_RAMP[-len(labels):], strict=True))


def not_shown_text(k: int) -> str:
    """The tooltip of a suppressed cell."""
    return f"{disclosure.NOT_SHOWN} (fewer than {k} places)"


def _collection(geoms: np.ndarray, properties: Mapping[str, Sequence]) -> dict:
    """A FeatureCollection numbered by feature (folium keys its styles on ``id``)."""
    shapes = shapely.to_geojson(np.asarray(list(geoms), dtype=object))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": i, "geometry": json.loads(shape),
         "properties": {key: values[i] for key, values in properties.items()}}
        for i, shape in enumerate(shapes)]}


def _cell_style(feature: dict) -> dict:
    props = feature["properties"]
    if not props["shown"]:
        return SUPPRESSED_STYLE
    return {**SHOWN_STYLE, "color": props["colour"], "fillColor": props["colour"]}


def _protective_style(_feature: dict) -> dict:
    return {"fillColor": PROTECTIVE_COLOUR}


def cell_layer(cells: pd.DataFrame, *, k: int) -> folium.FeatureGroup:
    """Resolution-7 cells as one GeoJson: shown ones by band, suppressed ones outlined.

    Parameters
    ----------
    cells
        `layers.access.disclosure.guardian_cells` output.
    k
        The suppression threshold the cells were made with, for the tooltip.
    """
    group = folium.FeatureGroup(name=CELL_LAYER)
    if cells.empty:
        return group
    colours = band_colours(k)
    shown = [bool(s) for s in cells["shown"]]
    places = [str(b) if s else not_shown_text(k) for b, s in zip(cells["places_band"], shown,
                                                                    strict=True)]
    concern = [disclosure.NOT_SHOWN if not s else ("no data" if c is None else str(c))
               for c, s in zip(cells["concern_band"], shown, strict=True)]
    props: dict[str, Sequence] = {
        "cell": [style.escape(c) for c in cells["h3_cell"]],
        "places": [style.escape(p) for p in places],
        "concern": [style.escape(c) for c in concern],
        "shown": shown,
        "colour": [colours.get(str(b), SUPPRESSED_COLOUR) if s else SUPPRESSED_COLOUR
                   for b, s in zip(cells["places_band"], shown, strict=True)],
    }
    polygons = h3index.cells_to_polygons(
        h3index.str_to_cells(cells["h3_cell"].to_numpy(dtype=object)))
    tooltip = folium.GeoJsonTooltip(["places", "concern", "cell"],
                                    aliases=["Places of concern", "Concern (fixed period)",
                                             "Area"])
    folium.GeoJson(_collection(polygons, props), style_function=_cell_style,
                   tooltip=tooltip).add_to(group)
    return group


def protective_layer(protective: pd.DataFrame) -> folium.FeatureGroup:
    """Protective places as green circles with their generic category label.

    Parameters
    ----------
    protective
        `layers.access.disclosure.protective_places` output: ``category``, ``label``, ``lat``,
        ``lng``.
    """
    group = folium.FeatureGroup(name=PROTECTIVE_LAYER)
    if protective.empty:
        return group
    points = shapely.points(protective["lng"].to_numpy(float), protective["lat"].to_numpy(float))
    props = {"label": [style.escape(v) for v in protective["label"]],
             "category": [style.escape(str(v).replace("_", " ")) for v in protective["category"]]}
    folium.GeoJson(_collection(points, props), style_function=_protective_style,
                   marker=folium.CircleMarker(radius=6, weight=1, color="#1b5e20", fill=True,
                                              fill_opacity=0.9),
                   tooltip=folium.GeoJsonTooltip(["label"], labels=False)).add_to(group)
    return group


def _swatch(label: str, css: str) -> str:
    return (f'<div><span style="display:inline-block; width:12px; height:12px; {css} '
            f'margin-right:6px;"></span>{style.escape(label)}</div>')


NO_PERIOD = (f"No concern bands yet: they need a whole fixed period ({disclosure.PERIOD_WEEKS} "
             "weeks in fixed blocks, or a calendar quarter) in the scored data, so that two "
             "views can never be compared to reveal a shorter one.")


def legend_html(*, k: int, period: str | None = None) -> str:
    """The legend: place-count bands, suppressed areas, concern bands and protective places."""
    rows = [f"<b>{style.escape('Places of concern per area')}</b>"]
    rows += [_swatch(label, f"background:{colour}; border:1px solid #555;")
             for label, colour in reversed(band_colours(k).items())]
    rows.append(_swatch(not_shown_text(k),
                        f"border:1.5px dashed {SUPPRESSED_COLOUR}; background:#f5f5f5;"))
    rows.append(f"<div>{style.escape(concern_legend())}</div>")
    rows.append(f"<div>{style.escape(f'Period: {period}' if period else NO_PERIOD)}</div>")
    rows.append(_swatch(PROTECTIVE_LAYER + " (youth clubs, parks, sports grounds)",
                        f"background:{PROTECTIVE_COLOUR}; border-radius:6px;"))
    return (f'<div class="placerisk-legend" style="{BOX} bottom: 24px; right: 10px;">'
            + "".join(rows) + "</div>")


def concern_legend() -> str:
    """The concern bands in words.

    Examples
    --------
    >>> concern_legend().split(": ")[1]
    'lower under 10, medium 10 to under 30, higher 30 and over'
    """
    bands = disclosure.CONCERN_BANDS
    parts = []
    for (lo, name), nxt in zip(bands, [*bands[1:], None], strict=True):
        if nxt is None:
            parts.append(f"{name} {lo:g} and over")
        else:
            parts.append(f"{name} under {nxt[0]:g}" if lo == 0 else
                         f"{name} {lo:g} to under {nxt[0]:g}")
    return "Concern over the period (weighted records): " + ", ".join(parts)


def _fit(m: folium.Map, cells: pd.DataFrame) -> None:
    if cells.empty:
        return
    polygons = h3index.cells_to_polygons(
        h3index.str_to_cells(cells["h3_cell"].to_numpy(dtype=object)))
    lng0, lat0, lng1, lat1 = shapely.total_bounds(polygons)
    m.fit_bounds([[float(lat0), float(lng0)], [float(lat1), float(lng1)]])


def build_guardian_map(cells: pd.DataFrame, protective: pd.DataFrame, *, tiles: str | None,
                       attribution: str | None = None, k: int = disclosure.DEFAULT_K,
                       period: str | None = None, areas: gpd.GeoDataFrame | None = None
                       ) -> folium.Map:
    """Compose the guardian map from disclosure-controlled frames; no database access.

    Parameters
    ----------
    cells
        `layers.access.disclosure.guardian_cells` output (resolution-7 cells, bands, shown flag).
    protective
        `layers.access.disclosure.protective_places` output.
    tiles
        Tile URL template, ``"pmtiles"`` (the app's PMTiles file) or ``None`` for no base
        map: a plain background then.
    attribution
        Attribution HTML for the tiles (configuration, not imported text: not escaped).
    k
        The suppression threshold the cells were made with.
    period
        The fixed period of the concern bands, as text (for the legend).
    areas
        Wards (``code``, ``name``, ``authority_name``, ``geometry``): outlines over the
        cells, named in their tooltip.

    Returns
    -------
    folium.Map
        With the layers, a layer control, a legend and the aggregation notice.
    """
    m = folium.Map(location=DEFAULT_CENTRE, zoom_start=DEFAULT_ZOOM, tiles=None,
                   control_scale=True)
    add_base_map(m, tiles, attribution=attribution)
    if not tiles:
        plain_background(m)
    cell_layer(cells, k=k).add_to(m)
    if areas is not None and len(areas):
        ward_layer(areas).add_to(m)
    protective_layer(protective).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    FixedHtml(legend_html(k=k, period=period)).add_to(m)
    FixedHtml(notice_html(NOTICE.format(k=k))).add_to(m)
    _fit(m, cells)
    return m
