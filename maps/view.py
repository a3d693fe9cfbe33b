"""The whole map: base tiles, the layers, a layer control, a legend and a notice.

Cells are drawn twice, in two layers the user switches between: shaded by score (shown when
the map opens) and coloured by emerging hot spot category. Wards are filled by their rank in
the newest scoring run; disruption activities and police.uk crime per cell (context) are
optional layers, off when the map opens.
"""

from __future__ import annotations

from collections.abc import Iterable

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from layers.hotspots.emerging import CATEGORIES
from layers.records.places import LEVELS
from maps import assets, filters, hexes, overlays, search, style
from maps._overlay import BOX, FixedHtml
from maps.basemap import add_base_map

DEFAULT_CENTRE = (54.5705, -1.3183)  # Stockton-on-Tees
DEFAULT_ZOOM = 12
MAX_ZOOM = 19  # street level; clustering needs the map to know its deepest zoom



def _swatch(colour: str, label: str) -> str:
    return (f'<div><span style="display:inline-block; width:12px; height:12px; '
            f'background:{colour}; border:1px solid #555; margin-right:6px;"></span>'
            f"{style.escape(label)}</div>")


def _steps(ramp: tuple[str, ...], vmax: float, *, fmt: str) -> list[str]:
    breaks = style.score_breaks(vmax, steps=len(ramp))
    lows = np.concatenate([[0.0], breaks[:-1]])
    return [_swatch(c, f"{lo:{fmt}} - {hi:{fmt}}")
            for c, lo, hi in reversed(list(zip(ramp, lows, breaks, strict=True)))]


def _context_rows(*, ranked: bool, activity_types: Iterable[str],
                  incident_max: float | None, report_max: float | None = None) -> list[str]:
    """Legend rows of the ward ranks, activity types and crime counts, when drawn."""
    rows = []
    if ranked:
        rows.append("<b>Ward rank</b>")
        rows += [_swatch(style.RANK_RAMP[-1], "top ranks (highest score)"),
                 _swatch(style.RANK_RAMP[0], "lowest ranks")]
    shown = set(activity_types)
    types = [t for t in style.ACTIVITY_COLOURS if t in shown]
    if types:
        rows.append(f"<b>{overlays.ACTIVITY_LAYER}</b>")
        rows += [_swatch(style.ACTIVITY_COLOURS[t], t.replace("_", " ")) for t in types]
    if incident_max:
        rows.append(f"<b>{style.escape(overlays.INCIDENT_LAYER)}: crimes per cell</b>")
        rows += _steps(style.INCIDENT_RAMP, incident_max, fmt=".0f")
    if report_max:
        rows.append(f"<b>{style.escape(filters.REPORT_LAYER)}: independent reports</b>")
        rows += _steps(style.REPORT_RAMP, report_max, fmt=".0f")
    return rows


def legend_html(vmax: float, *, categories: Iterable[str] = (), ranked: bool = False,
                activity_types: Iterable[str] = (), incident_max: float | None = None,
                report_max: float | None = None) -> str:
    """The legend: MACE level colours, score steps up to ``vmax`` and hot spot categories.

    Only the ``categories`` present (and drawn) are listed, in `layers.hotspots.emerging.CATEGORIES`
    order. ``ranked`` adds the ward rank shades, ``activity_types`` the colours of the
    activity types drawn and ``incident_max`` (the most crimes in a cell) the crime steps.
    """
    rows = ["<b>Places: MACE level</b>"]
    rows += [_swatch(style.level_colour(lv), f"{lv} {LEVELS[lv]}") for lv in sorted(LEVELS,
                                                                                     reverse=True)]
    rows.append("<b>Cell score</b>")
    rows += _steps(style.SCORE_RAMP, vmax, fmt=".1f")
    rows.append(_swatch(style.ZERO_SCORE_COLOUR, "0 (next to records)"))
    shown = set(categories)
    drawn = [c for c in CATEGORIES if c in shown and style.category_colour(c)]
    if drawn:
        rows.append(f"<b>{overlays.CATEGORY_LAYER}</b>")
        rows += [_swatch(str(style.category_colour(c)), c) for c in drawn]
    rows += _context_rows(ranked=ranked, activity_types=activity_types,
                          incident_max=incident_max, report_max=report_max)
    return (f'<div class="placerisk-legend" style="{BOX} bottom: 24px; right: 10px;">'
            + "".join(rows) + "</div>")


def notice_html(notice: str) -> str:
    """A banner across the top of the map, with ``notice`` escaped."""
    return (f'<div class="placerisk-notice" role="note" style="{BOX} top: 10px; left: 50%; '
            f'transform: translateX(-50%); background: #fff3cd; font-weight: bold;">'
            f"{style.escape(notice)}</div>")


def period_html(period: str) -> str:
    """The run's period (`layers.hotspots.coverage.covered_text`), bottom centre, escaped."""
    return (f'<div class="placerisk-period" role="note" style="{BOX} bottom: 24px; left: 50%; '
            f'transform: translateX(-50%); max-width: 420px; font-size: 12px;">'
            f"{style.escape(period)}</div>")


def _fit(m: folium.Map, frames: list[gpd.GeoDataFrame]) -> None:
    for frame in frames:
        frame = frame[frame.geometry.notna()]
        if not frame.empty:
            lng0, lat0, lng1, lat1 = frame.total_bounds
            m.fit_bounds([[float(lat0), float(lng0)], [float(lat1), float(lng1)]])
            return


def _place_points(places: pd.DataFrame) -> gpd.GeoDataFrame:
    located = places[places["lat"].notna() & places["lng"].notna()]
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(located["lng"].astype(float),
                                                         located["lat"].astype(float)),
                            crs="EPSG:4326")


def _cells(m: folium.Map, cells: pd.DataFrame, *, vmax: float, client: bool | None,
           states: pd.DataFrame | None = None, step_labels: list[str] | None = None,
           show_scores: bool = True) -> None:
    """Both cell layers: drawn in the browser by h3-js when it is installed, else GeoJSON."""
    if client is None:
        client = assets.h3js_file() is not None
    if client:
        groups, filler = hexes.hex_layers(cells, vmax=vmax, states=states,
                                          step_labels=step_labels, show_scores=show_scores)
        for group in groups:
            group.add_to(m)
        if filler is not None:
            filler.add_to(m)
            m.needs_h3js = True  # type: ignore[attr-defined]
        return
    overlays.cell_layer(cells, vmax=vmax, show=show_scores).add_to(m)
    overlays.category_layer(cells).add_to(m)


def _context_legend(ranking: pd.DataFrame | None, activities: pd.DataFrame | None,
                    incidents: pd.DataFrame | None, reports: pd.DataFrame | None) -> dict:
    """The keyword arguments of `legend_html` for the optional layers drawn."""
    types: Iterable[str] = ()
    if activities is not None:
        located = activities["lat"].notna() & activities["lng"].notna()
        types = activities.loc[located, "activity_type"]
    most = None
    if incidents is not None and len(incidents):
        most = float(incidents["count"].max())
    most_reports = None
    if reports is not None and len(reports):
        most_reports = float(reports["independent"].max())
    return {"ranked": ranking is not None and len(ranking) > 0, "activity_types": types,
            "incident_max": most, "report_max": most_reports}


def build_map(areas: gpd.GeoDataFrame, cells: pd.DataFrame, places: pd.DataFrame, *,
              tiles: str | None, attribution: str | None = None,
              notice: str | None = None, client: bool | None = None,
              ranking: pd.DataFrame | None = None, activities: pd.DataFrame | None = None,
              incidents: pd.DataFrame | None = None, states: pd.DataFrame | None = None,
              step_labels: list[str] | None = None, reports: pd.DataFrame | None = None,
              filter_panel: str | None = None, period: str | None = None) -> folium.Map:
    """Compose the placerisk map from frames; no database access.

    Parameters
    ----------
    areas
        Wards: ``code``, ``name``, ``authority_name``, ``geometry`` (EPSG:4326).
    cells
        Cell scores: ``h3_cell``, ``score``, ``category``, ``ward_code`` and optionally
        ``label``; drawn by score and, in a second layer, by hot spot category.
    places
        Places: ``name``, ``category``, ``address``, ``mace_level``, ``lat``, ``lng``.
    tiles
        Tile URL template, ``"pmtiles"`` (the app's PMTiles file) or ``None`` for no base
        map (`maps.basemap.add_base_map`).
    attribution
        Attribution HTML for the tiles (configuration, not imported text: not escaped).
    notice
        Text shown in a banner on the map, such as a synthetic-data warning.
    client
        Draw the cells in the browser with h3-js (small pages); ``None``: when h3-js is
        installed, else as GeoJSON polygons.
    ranking
        The newest run's ward ranking (`layers.hotspots.read.ward_ranking`); wards are filled by
        rank. ``None`` (no run): outlines only.
    activities
        Disruption activities (`layers.records.read.activities`), drawn by type in a layer that
        is off when the map opens; ``None``: no such layer.
    incidents
        police.uk crime per cell (`layers.records.read.incident_cells`), a context layer off
        when the map opens; ``None``: no such layer.
    states, step_labels
        Per-step hot/cold states of the ever-significant cells and the steps' start dates
        (`layers.hotspots.read.cell_states`): a time slider then shows the hot and cold spots at
        any step (drawn in the browser, so only with h3-js).
    reports
        Concern reports matching a filter, per cell (`layers.records.read.report_cells`): a
        layer on when the map opens; ``None``: no such layer.
    filter_panel
        The filter box (`maps.filters.filter_panel_html`), already escaped.
    period
        What the scoring run covers (`layers.hotspots.read.run_period`), shown bottom centre.

    Returns
    -------
    folium.Map
        With a layer control, a search box (places, wards, postcodes) and a legend of
        levels, scores, hot spot categories and, when given, ward ranks, activity types and
        crime counts.
    """
    m = folium.Map(location=DEFAULT_CENTRE, zoom_start=DEFAULT_ZOOM, tiles=None,
                   control_scale=True)
    m.options["max_zoom"] = MAX_ZOOM
    add_base_map(m, tiles, attribution=attribution, max_zoom=MAX_ZOOM)
    vmax = float(cells["score"].max()) if len(cells) else 1.0
    overlays.ward_layer(areas, ranking=ranking).add_to(m)
    if incidents is not None:
        overlays.incident_layer(incidents).add_to(m)
    # a filtered map opens on the reports the filter matches, the scores one click away
    _cells(m, cells, vmax=vmax, client=client, states=states, step_labels=step_labels,
           show_scores=reports is None)
    if reports is not None:
        filters.report_layer(reports).add_to(m)
    if activities is not None:
        overlays.activity_layer(activities).add_to(m)
    overlays.place_layer(places, cluster=True).add_to(m)
    m.needs_cluster = True  # type: ignore[attr-defined]
    folium.LayerControl(collapsed=False).add_to(m)
    FixedHtml(legend_html(vmax, categories=cells["category"] if len(cells) else (),
                      **_context_legend(ranking, activities, incidents, reports))).add_to(m)
    if notice:
        FixedHtml(notice_html(notice)).add_to(m)
    if filter_panel:
        FixedHtml(filter_panel).add_to(m)
    if period:
        FixedHtml(period_html(period)).add_to(m)
    search.add_search(m, places, areas)
    _fit(m, [areas, _place_points(places)])
    return m


def render_html(m: folium.Map, *, standalone: bool = False, title: str | None = None) -> str:
    """The map as an HTML page with no CDN request.

    Parameters
    ----------
    m
        The map.
    standalone
        Embed Leaflet in the page (for a file); otherwise the page loads it from the app
        (`maps.assets.ROUTE`).
    title
        The page's title (escaped): what the browser tab and history show.
    """
    if standalone:
        assets.use_inline_assets(m)
    else:
        assets.use_served_assets(m)
    root = m.get_root()
    if title:
        root.title = style.escape(title)  # type: ignore[attr-defined]  # a branca Figure
    return root.render()
