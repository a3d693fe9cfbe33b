"""One builder per map layer: wards, cells, places, activities and police.uk crime.

Wards are filled by rank; H3 cells are shaded by score or coloured by hot spot category;
police.uk crime is counted per cell, never drawn as points.

Each builder takes a frame and returns a `folium.FeatureGroup` (empty when the frame is),
so the caller can add it to a map and list it in the layer control. Every layer is a single
GeoJson whose style is keyed on a feature property, never one folium object per feature.
All imported text is escaped with `maps.style.escape` before it enters the GeoJSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import h3index
from layers.records.places import LEVELS
from maps import style
from maps.cluster import ClusterPoints
from maps.details import PlaceDetails

WARD_STYLE = {"color": "#3f3f8f", "weight": 2, "fill": False, "dashArray": "4 3"}
CELL_STYLE = {"weight": 0.5, "fillOpacity": 0.55, "opacity": 0.8}
PLACE_RADIUS = 5
PLACE_OUTLINE = "#222222"
WARD_FILL = {"color": "#3f3f8f", "weight": 2, "fill": True, "fillOpacity": 0.35,
             "dashArray": "4 3"}
INCIDENT_STYLE = {"weight": 0.5, "color": "#6b6b6b", "fillOpacity": 0.5, "opacity": 0.6}
ACTIVITY_RADIUS = 4
CATEGORY_LAYER = "Hot spot categories"
ACTIVITY_LAYER = "Disruption activities"
INCIDENT_LAYER = "police.uk crime (context)"
NO_LABEL = "none"  # the simple label of a cell never significantly hot


def _escaped(values: Sequence | pd.Series) -> list[str]:
    return [style.escape(v) for v in values]


def _collection(geoms: np.ndarray | Sequence, properties: Mapping[str, Sequence]) -> dict:
    """A GeoJSON FeatureCollection of ``geoms`` with one property list per key.

    Features are numbered (``id``) so that folium keys its styles on that number rather than
    on whichever imported text happens to be unique.
    """
    shapes = shapely.to_geojson(np.asarray(list(geoms), dtype=object))
    keys = list(properties)
    features = [
        {"type": "Feature", "id": i, "geometry": json.loads(shape),
         "properties": {k: properties[k][i] for k in keys}}
        for i, shape in enumerate(shapes)
    ]
    return {"type": "FeatureCollection", "features": features}


def _ward_style(feature: dict) -> dict:
    shade = feature["properties"].get("shade")
    return {**WARD_FILL, "fillColor": shade} if shade else WARD_STYLE


def _fill_style(feature: dict) -> dict:
    colour = feature["properties"]["colour"]
    return {**CELL_STYLE, "color": colour, "fillColor": colour}


def _place_style(feature: dict) -> dict:
    return {"fillColor": feature["properties"]["colour"]}


def _ranked(areas: gpd.GeoDataFrame, ranking: pd.DataFrame) -> dict[str, list]:
    """Rank, score, trend and fill colour of each area; blanks for areas not ranked."""
    by_code = ranking.set_index("ward_code")
    of = len(ranking)
    found = [code in by_code.index for code in areas["code"]]
    rows = by_code.reindex(areas["code"])
    shades = style.rank_colours(rows["rank"].fillna(of).to_numpy(float), of=of)
    return {
        "rank": [f"{int(r)} of {of}" if ok else "not ranked"
                 for r, ok in zip(rows["rank"], found, strict=True)],
        "score": [f"{float(v):.1f}" if ok else "" for v, ok in zip(rows["current"], found,
                                                                   strict=True)],
        "trend": _escaped([d if ok else "" for d, ok in zip(rows["direction"], found,
                                                              strict=True)]),
        "shade": [str(c) if ok else None for c, ok in zip(shades, found, strict=True)],
    }


def ward_layer(areas: gpd.GeoDataFrame, *, ranking: pd.DataFrame | None = None,
               name: str = "Wards") -> folium.FeatureGroup:
    """Wards with a tooltip naming the ward, its code and authority; filled by rank if ranked.

    Parameters
    ----------
    areas
        Columns ``code``, ``name``, ``authority_name`` and polygon ``geometry`` in EPSG:4326.
    ranking
        The newest run's ward ranking (`layers.hotspots.read.ward_ranking`): ``ward_code``,
        ``rank``, ``current`` and ``direction``. Ranked wards are filled on
        `maps.style.RANK_RAMP` (darker = higher) and their tooltip adds the rank ("3 of
        27"), the current score and the trend; without it (no run yet), outlines only.
    name
        The layer's name in the layer control.
    """
    group = folium.FeatureGroup(name=name)
    areas = areas[areas.geometry.notna()]
    if areas.empty:
        return group
    props = {"name": _escaped(areas["name"]), "code": _escaped(areas["code"]),
             "authority": _escaped(areas["authority_name"])}
    fields, aliases = ["name", "code", "authority"], ["Ward", "Code", "Authority"]
    if ranking is not None and len(ranking):
        props |= _ranked(areas, ranking)
        fields += ["rank", "score", "trend"]
        aliases += ["Rank", "Current score", "Trend"]
    tooltip = folium.GeoJsonTooltip(fields, aliases=aliases)
    folium.GeoJson(_collection(areas.geometry.to_numpy(), props), style_function=_ward_style,
                   tooltip=tooltip).add_to(group)
    return group


def _cell_properties(cells: pd.DataFrame) -> dict[str, list]:
    """Tooltip properties of cells: id, score, category, simple label and ward, escaped."""
    labels = cells["label"] if "label" in cells else [""] * len(cells)
    return {
        "cell": _escaped(cells["h3_cell"]),
        "score": [f"{s:.1f}" for s in cells["score"].to_numpy(dtype=float)],
        "category": _escaped(cells["category"]),
        "label": _escaped([v if isinstance(v, str) and v else NO_LABEL for v in labels]),
        "ward": _escaped(cells["ward_code"]),
    }


def _cell_geojson(cells: pd.DataFrame, colours: list[str]) -> folium.GeoJson:
    """One GeoJson of hexagons, each filled with its ``colour`` property."""
    ids = cells["h3_cell"].to_numpy(dtype=object)
    polygons = h3index.cells_to_polygons(h3index.str_to_cells(ids))
    props = {**_cell_properties(cells), "colour": colours}
    tooltip = folium.GeoJsonTooltip(["cell", "score", "category", "label", "ward"],
                                    aliases=["H3 cell", "Score", "Hot spot", "Pattern", "Ward"])
    return folium.GeoJson(_collection(polygons, props), style_function=_fill_style,
                          tooltip=tooltip)


def cell_layer(cells: pd.DataFrame, *, vmax: float | None = None,
               name: str = "Cell scores", show: bool = True) -> folium.FeatureGroup:
    """H3 cells shaded by score, drawn as one GeoJson layer.

    Parameters
    ----------
    cells
        Columns ``h3_cell`` (hex id), ``score``, ``category``, ``ward_code`` and optionally
        ``label`` (the simple label of `layers.hotspots.emerging.simple_labels`).
    vmax
        The score given the darkest colour; defaults to the highest score.
    name
        The layer's name in the layer control.
    show
        Whether the layer is on when the map opens.
    """
    group = folium.FeatureGroup(name=name, show=show)
    if cells.empty:
        return group
    colours = style.score_colours(cells["score"].to_numpy(dtype=float), vmax=vmax)
    _cell_geojson(cells, colours.tolist()).add_to(group)
    return group


def category_layer(cells: pd.DataFrame, *, name: str = CATEGORY_LAYER,
                   show: bool = False) -> folium.FeatureGroup:
    """H3 cells coloured by emerging hot spot category; "no pattern" cells are not drawn.

    Parameters
    ----------
    cells
        Columns as for `cell_layer`; ``category`` holds names of
        `layers.hotspots.emerging.CATEGORIES`.
    name
        The layer's name in the layer control.
    show
        Whether the layer is on when the map opens (the score layer is, by default).
    """
    group = folium.FeatureGroup(name=name, show=show)
    colours = [style.category_colour(c) for c in cells["category"]]
    drawn = [c is not None for c in colours]
    if not any(drawn):
        return group
    _cell_geojson(cells[drawn], [c for c in colours if c is not None]).add_to(group)
    return group


def place_layer(places: pd.DataFrame, *, name: str = "Places (MACE level)",
                cluster: bool = False) -> folium.FeatureGroup:
    """Places as circle markers coloured by MACE level, with a popup explaining the level.

    Places without coordinates cannot be drawn and are left out.

    Parameters
    ----------
    places
        Columns ``name``, ``category``, ``address``, ``mace_level``, ``lat``, ``lng``.
    name
        The layer's name in the layer control.
    cluster
        Group dense places into clusters coloured by their highest level
        (`maps.cluster.ClusterPoints`); the page must then load leaflet.markercluster
        (``needs_cluster`` on the map, see `maps.assets`).
    """
    group = folium.FeatureGroup(name=name)
    located = places[places["lat"].notna() & places["lng"].notna()]
    if located.empty:
        return group
    levels = [int(v) for v in located["mace_level"]]
    points = shapely.points(located["lng"].to_numpy(float), located["lat"].to_numpy(float))
    props: dict[str, Sequence] = {
        "n": list(range(len(located))),  # index into the ids of `maps.details`
        "name": _escaped(located["name"]),
        "category": _escaped(located["category"].str.replace("_", " ")),
        "address": _escaped(located["address"]),
        "level": levels,
        "meaning": [LEVELS[v] for v in levels],
        "colour": [style.level_colour(v) for v in levels],
    }
    shapes = _points(points, props, popup={"name": "Place", "category": "Category",
                                           "address": "Address", "level": "MACE level",
                                           "meaning": "Meaning"},
                     tooltip="name", radius=PLACE_RADIUS)
    shapes.add_to(group)
    if "source_id" in located:
        PlaceDetails(shapes, located["source_id"].tolist()).add_to(group)
    if cluster:
        ClusterPoints(group, shapes).add_to(group)
    return group


def _points(points: np.ndarray, props: Mapping[str, Sequence], *, popup: Mapping[str, str],
            tooltip: str, radius: float) -> folium.GeoJson:
    """One GeoJson of circle markers filled with their ``colour`` property."""
    return folium.GeoJson(
        _collection(points, props), style_function=_place_style,
        marker=folium.CircleMarker(radius=radius, weight=1, color=PLACE_OUTLINE, fill=True,
                                   fill_opacity=0.9),
        tooltip=folium.GeoJsonTooltip([tooltip], labels=False),
        popup=folium.GeoJsonPopup(list(popup), aliases=list(popup.values())))


def _day(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return style.escape(value)[:10]


def activity_layer(activities: pd.DataFrame, *, name: str = ACTIVITY_LAYER,
                   show: bool = False) -> folium.FeatureGroup:
    """Disruption activities as small circle markers coloured by type, with a popup.

    Activities without coordinates cannot be drawn and are left out.

    Parameters
    ----------
    activities
        Columns ``activity_type``, ``started_at``, ``agency``, ``outcome``, ``jag_ref``,
        ``lat``, ``lng`` (as `layers.records.read.activities` returns them).
    name
        The layer's name in the layer control.
    show
        Whether the layer is on when the map opens.
    """
    group = folium.FeatureGroup(name=name, show=show)
    located = activities[activities["lat"].notna() & activities["lng"].notna()]
    if located.empty:
        return group
    types = [str(t) for t in located["activity_type"]]
    points = shapely.points(located["lng"].to_numpy(float), located["lat"].to_numpy(float))
    props: dict[str, Sequence] = {
        "type": _escaped([t.replace("_", " ") for t in types]),
        "started": [_day(v) for v in located["started_at"]],
        "agency": _escaped(located["agency"]),
        "outcome": _escaped(located["outcome"]),
        "jag_ref": _escaped(located["jag_ref"]),
        "colour": [style.activity_colour(t) for t in types],
    }
    _points(points, props, popup={"type": "Activity", "started": "Started",
                                  "agency": "Agency", "outcome": "Outcome",
                                  "jag_ref": "JAG ref"},
            tooltip="type", radius=ACTIVITY_RADIUS).add_to(group)
    return group


def _incident_style(feature: dict) -> dict:
    return {**INCIDENT_STYLE, "fillColor": feature["properties"]["colour"]}


def incident_summary(count: int, top_types: Sequence[tuple[str, int]]) -> str:
    """The tooltip of a cell's crime, escaped.

    Examples
    --------
    >>> incident_summary(17, [("Violence", 12), ("<b>ASB</b>", 5)])
    '17 crimes (police.uk, area-level): Violence 12, &lt;b&gt;ASB&lt;/b&gt; 5'
    """
    noun = "crime" if count == 1 else "crimes"
    parts = ", ".join(f"{style.escape(t)} {int(n)}" for t, n in top_types)
    return f"{int(count)} {noun} (police.uk, area-level): {parts}"


def incident_layer(incidents: pd.DataFrame, *, name: str = INCIDENT_LAYER,
                   show: bool = False) -> folium.FeatureGroup:
    """police.uk crime counted per H3 cell, drawn as one GeoJson of hexagons.

    Never points: police.uk locations are anonymised snap points, so they are shown by area.

    Parameters
    ----------
    incidents
        Columns ``h3_cell``, ``count`` and ``top_types`` (as
        `layers.records.read.incident_cells` returns them).
    name
        The layer's name in the layer control.
    show
        Whether the layer is on when the map opens.
    """
    group = folium.FeatureGroup(name=name, show=show)
    if incidents.empty:
        return group
    ids = incidents["h3_cell"].to_numpy(dtype=object)
    polygons = h3index.cells_to_polygons(h3index.str_to_cells(ids))
    counts = incidents["count"].to_numpy(dtype=float)
    props = {
        "tip": [incident_summary(int(n), top) for n, top in zip(
            counts, incidents["top_types"], strict=True)],
        "colour": style.incident_colours(counts).tolist(),
    }
    folium.GeoJson(_collection(polygons, props), style_function=_incident_style,
                   tooltip=folium.GeoJsonTooltip(["tip"], labels=False)).add_to(group)
    return group
