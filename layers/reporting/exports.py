"""Export frames of the store's layers, for QGIS, ArcGIS and spreadsheet users.

Each builder takes rows read by `layers.records.read` and returns the GeoDataFrame that
`layers.reporting.export_files` writes as GeoJSON, CSV or GeoPackage: EPSG:4326, plain column names
and simple column types (text, numbers, booleans, dates as ISO ``YYYY-MM-DD`` text, timestamps).

Only the columns listed in `COLUMNS` leave the store, whatever the rows hold: a place's
free-text ``notes`` are never exported, and an activity's only free text is its ``outcome``.
Reports carry their free-text ``summary`` and 3x5x2 grades: analysts' data, like every
export. Rows without a location are kept, with an empty geometry.

Places, reports and activities use the import column names (``place_id``, ``mace_level``...,
and in CSV ``latitude`` and ``longitude``), so that an export imports back unchanged; the
columns in `layers.records.spreadsheet.DERIVED` are worked out by placerisk, and the importer passes
over them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import h3index
from geo.crs import WGS84

EXPORTS = ("cells", "places", "reports", "activities", "wards")
GEOMETRY_TYPES = {"cells": "Polygon", "places": "Point", "reports": "Point",
                  "activities": "Point", "wards": "MultiPolygon"}

# The exported columns of each layer and the type of each (geometry apart).
COLUMNS: dict[str, dict[str, str]] = {
    "cells": {
        "h3_cell": "text", "score": "float", "category": "text", "label": "text",
        "z_last": "float", "trend_z": "float", "ward_code": "text", "as_of": "date",
        "run_id": "int",
    },
    "places": {
        "place_id": "text", "name": "text", "category": "text", "address": "text",
        "postcode": "text", "mace_level": "int", "exploitation_types": "text",
        "source_agency": "text", "assessed_on": "date", "review_due": "date",
        "status": "text", "level_name": "text", "ward_code": "text", "outside_areas": "bool",
        "h3_cell": "text",
    },
    "reports": {
        "report_id": "text", "reported_on": "date", "place_id": "text", "postcode": "text",
        "mace_level": "int", "exploitation_type": "text", "source_agency": "text",
        "patrol_discovered": "bool", "source_grade": "int?", "intel_grade": "text",
        "handling_code": "text", "summary": "text", "ward_code": "text",
        "outside_areas": "bool", "h3_cell": "text",
    },
    "activities": {
        "activity_id": "text", "activity_type": "text", "started_at": "datetime",
        "ended_at": "datetime", "place_id": "text", "postcode": "text", "agency": "text",
        "outcome": "text", "jag_ref": "text", "ward_code": "text", "outside_areas": "bool",
        "h3_cell": "text",
    },
    "wards": {
        "ward_code": "text", "name": "text", "authority_code": "text", "authority": "text",
        "rank": "int", "current": "float", "trend": "text", "trend_z": "float",
        "trend_p": "float", "patrol_share": "float", "as_of": "date", "run_id": "int",
    },
}


class UnknownExportError(LookupError):
    """An export or file format that placerisk does not offer."""


def check_export(what: str) -> str:
    """Return ``what`` if it names an export, else raise `UnknownExportError`.

    Examples
    --------
    >>> check_export("places")
    'places'
    >>> check_export("notes")
    Traceback (most recent call last):
    ...
    layers.reporting.exports.UnknownExportError: unknown export 'notes'; expected one of cells, places, reports, activities, wards
    """  # noqa: E501
    if what not in EXPORTS:
        msg = f"unknown export {what!r}; expected one of {', '.join(EXPORTS)}"
        raise UnknownExportError(msg)
    return what


def export_filename(what: str, extension: str, *, day: dt.date) -> str:
    """A file name safe in any file system and HTTP header, like ``placerisk-places-DATE.gpkg``.

    Examples
    --------
    >>> export_filename("places", "gpkg", day=dt.date(2025, 6, 30))
    'placerisk-places-2025-06-30.gpkg'
    >>> export_filename('../x"y', "csv", day=dt.date(2025, 6, 30))
    'placerisk-x-y-2025-06-30.csv'
    """
    stem = re.sub(r"[^A-Za-z0-9_]+", "-", f"placerisk-{what}-{day.isoformat()}").strip("-")
    return f"{stem}.{re.sub(r'[^A-Za-z0-9]', '', extension)}"


# --- column types ------------------------------------------------------------------------

def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)


def _dates(values: pd.Series) -> pd.Series:
    text = pd.to_datetime(values.astype(object)).dt.strftime("%Y-%m-%d")
    return text.astype(object).where(text.notna(), None)


_CONVERT: dict[str, Callable[[pd.Series], pd.Series]] = {
    "text": _text,
    "float": lambda s: s.astype(float),
    "int": lambda s: s.astype("int64"),
    "int?": lambda s: s.astype("Int64"),  # whole numbers, some missing
    "bool": lambda s: s.astype(bool),
    "date": _dates,
    "datetime": lambda s: pd.to_datetime(s.astype(object)),
}


def _frame(what: str, rows: pd.DataFrame, geometry: Iterable[object]) -> gpd.GeoDataFrame:
    """The export's columns of ``rows``, typed, with ``geometry`` in EPSG:4326."""
    rows = rows.reset_index(drop=True)
    data = {name: _CONVERT[kind](rows[name]) for name, kind in COLUMNS[what].items()}
    frame = gpd.GeoDataFrame(pd.DataFrame(data, index=rows.index), geometry=list(geometry),
                             crs=WGS84)
    frame.attrs["export"] = what
    return frame


def _points(rows: pd.DataFrame) -> list[shapely.Point | None]:
    """Points in (lng, lat) order; ``None`` where a row has no location."""
    lat = pd.to_numeric(rows["lat"], errors="coerce").to_numpy(float)
    lng = pd.to_numeric(rows["lng"], errors="coerce").to_numpy(float)
    located = ~(np.isnan(lat) | np.isnan(lng))
    points = shapely.points(lng, lat)
    return [p if ok else None for p, ok in zip(points, located, strict=True)]


# --- builders ----------------------------------------------------------------------------

def cells_frame(rows: pd.DataFrame, *, as_of: dt.date) -> gpd.GeoDataFrame:
    """Cells of one scoring run as hexagons.

    Parameters
    ----------
    rows
        `layers.hotspots.read.cells` rows of the run.
    as_of
        The run's as-of date, kept in ``attrs["as_of"]`` (it names the file).
    """
    ids = rows["h3_cell"].to_numpy(dtype=object)
    polygons = h3index.cells_to_polygons(h3index.str_to_cells(ids))
    frame = _frame("cells", rows, polygons)
    frame.attrs["as_of"] = as_of
    return frame


def places_frame(rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Places of concern as points, without their notes.

    Parameters
    ----------
    rows
        `layers.records.read.places` rows (``source_id`` is exported as ``place_id``); a
        ``notes`` column, if present, is left out.
    """
    return _frame("places", rows.rename(columns={"source_id": "place_id"}), _points(rows))


def reports_frame(rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Concern reports as points, with their summary and grades (analysts' data).

    Parameters
    ----------
    rows
        Report rows with ``source_id`` (exported as ``report_id``) and ``place_ref``, the
        ``place_id`` of the report's place as imported (exported as ``place_id``).
    """
    return _frame("reports", _linked(rows, "report_id"), _points(rows))


def activities_frame(rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Disruption activities as points.

    Parameters
    ----------
    rows
        Activity rows with ``source_id`` and ``place_ref``, as for `reports_frame`.
    """
    return _frame("activities", _linked(rows, "activity_id"), _points(rows))


def _linked(rows: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Rows named as in the import file: the record's id and its place's ``place_id``."""
    return rows.drop(columns=["place_id"], errors="ignore").rename(
        columns={"source_id": id_column, "place_ref": "place_id"})


def wards_frame(ranking: pd.DataFrame, areas: gpd.GeoDataFrame, *, run_id: int,
                as_of: dt.date) -> gpd.GeoDataFrame:
    """A run's ward ranking with the ward boundaries, as multipolygons.

    Parameters
    ----------
    ranking
        `layers.hotspots.read.ward_ranking` rows of the run.
    areas
        `layers.records.read.areas` with geometry. A ranked ward that is no longer loaded keeps
        its row, with an empty geometry.
    run_id, as_of
        The run; ``as_of`` is also kept in ``attrs["as_of"]`` (it names the file).
    """
    areas = areas.drop_duplicates("code", keep="last").set_index("code")
    codes = ranking["ward_code"]
    loaded = areas.reindex(codes.to_numpy())
    rows = pd.DataFrame({
        "ward_code": codes.to_numpy(),
        "name": np.where(loaded["name"].notna(), loaded["name"], ranking["name"]),
        "authority_code": loaded["authority_code"].to_numpy(),
        "authority": loaded["authority_name"].to_numpy(),
        "rank": ranking["rank"].to_numpy(), "current": ranking["current"].to_numpy(),
        "trend": ranking["direction"].to_numpy(), "trend_z": ranking["trend_z"].to_numpy(),
        "trend_p": ranking["trend_p"].to_numpy(),
        "patrol_share": ranking["patrol_share"].to_numpy(), "as_of": as_of, "run_id": run_id,
    })
    geoms = [_multi(g) for g in loaded["geometry"]] if len(loaded) else []
    frame = _frame("wards", rows, geoms)
    frame.attrs["as_of"] = as_of
    return frame


def _multi(geom: object) -> shapely.MultiPolygon | None:
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    return geom if isinstance(geom, shapely.MultiPolygon) else None
