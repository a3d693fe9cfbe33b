"""Read the export frames from the store and write them as GeoJSON, CSV or GeoPackage.

* **GeoJSON** follows RFC 7946: WGS84 longitude/latitude, no ``crs`` member, exterior rings
  counter-clockwise (GDAL's ``RFC7946=YES``).
* **CSV** is for spreadsheets: UTF-8 with a byte order mark so that Excel reads it as UTF-8,
  text quoted and defused against formulas (`layers.reporting.exports.neutralise_csv`), the geometry
  as WKT in ``geometry_wkt`` and, for points, ``latitude`` and ``longitude`` columns too. The CSV of
  places, reports and activities imports back unchanged (`layers.records.importer`).
* **GeoPackage** holds one layer named after the export. Writing into an existing
  GeoPackage replaces that layer and keeps the others, so one file can hold every export.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
import sqlalchemy as sa

from geo.crs import WGS84, check_crs
from layers import errors
from layers.hotspots import read as hotspots_read
from layers.hotspots.runs import latest_run_id
from layers.records import read as records_read
from layers.reporting import exports
from layers.store import schema
from layers.store import scope as scopes
from layers.store.files import close_to_others, private_umask, write_private


@dataclass(frozen=True)
class ExportFormat:
    """A file format: its extension, media type and GDAL driver (none for CSV)."""

    extension: str
    media_type: str
    driver: str | None


FORMATS = {
    "geojson": ExportFormat("geojson", "application/geo+json", "GeoJSON"),
    "csv": ExportFormat("csv", "text/csv", None),
    "gpkg": ExportFormat("gpkg", "application/geopackage+sqlite3", "GPKG"),
}
WKT_DECIMALS = 7  # as GDAL writes RFC 7946 GeoJSON: about 1 cm


def check_format(fmt: str) -> ExportFormat:
    """The `ExportFormat` named ``fmt``; `exports.UnknownExportError` if none is."""
    if fmt not in FORMATS:
        msg = f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}"
        raise exports.UnknownExportError(msg)
    return FORMATS[fmt]


# --- reading -----------------------------------------------------------------------------

def load_export(conn: sa.Connection, what: str, *, run_id: int | None = None,
                scope: scopes.Scope = None) -> gpd.GeoDataFrame:
    """Read one export from the store: every row, in the shape of `layers.reporting.exports`.

    Parameters
    ----------
    conn
        An open connection to the store.
    what
        ``cells`` or ``wards`` (of a scoring run); ``places``, ``reports`` or ``activities``
        (as stored).
    run_id
        The run of ``cells`` and ``wards``; default the newest.
    scope
        Only what lies in these authorities (`layers.store.scope`); ``None`` for all.

    Raises
    ------
    layers.reporting.exports.UnknownExportError
        If ``what`` is not one of `layers.reporting.exports.EXPORTS`.
    layers.records.read.NotFoundError
        If ``cells`` or ``wards`` are asked for and there is no such run, or no run yet.
    layers.records.read.ParameterError
        If ``run_id`` is given for places, reports or activities, which belong to no run.
    """
    exports.check_export(what)
    if what in ("places", "reports", "activities"):
        if run_id is not None:
            msg = (f"run_id: {what} are exported as stored now and belong to no scoring run; "
                   "run_id applies to cells and wards")
            raise errors.ParameterError(msg)
        if what == "places":
            return exports.places_frame(records_read.places(conn, scope=scope).rows)
        if what == "reports":
            return exports.reports_frame(_linked_rows(conn, schema.reports, scope))
        return exports.activities_frame(_linked_rows(conn, schema.activities, scope))
    run = hotspots_read.run(conn, _run_id(conn, what, run_id))
    if what == "cells":
        rows = hotspots_read.cells(conn, run_id=run["id"], scope=scope).rows
        return exports.cells_frame(rows, as_of=run["as_of"])
    _, ranking = hotspots_read.ward_ranking(conn, run_id=run["id"], scope=scope)
    areas, _ = records_read.areas(conn, scope=scope)
    return exports.wards_frame(ranking, areas, run_id=run["id"], as_of=run["as_of"])


def _linked_rows(conn: sa.Connection, table: sa.Table, scope: scopes.Scope) -> pd.DataFrame:
    """Every report or activity (in ``scope``) in id order, with ``place_ref``: its place's id.

    A record linked to an erased place, or to a place out of ``scope``, is exported
    unlinked, as every read shows it.
    """
    p = schema.places
    live = sa.and_(p.c.id == table.c.place_id, p.c.erased_at.is_(None),
                   *scopes.where(p.c.ward_code, scope))
    stmt = (sa.select(table, p.c.source_id.label("place_ref"))
            .select_from(table.outerjoin(p, live))
            .where(*scopes.where(table.c.ward_code, scope)).order_by(table.c.id))
    result = conn.execute(stmt)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _run_id(conn: sa.Connection, what: str, run_id: int | None) -> int:
    """``run_id``, or else the newest run; `NotFoundError` with a hint when there is none."""
    if run_id is not None:
        return run_id
    newest = latest_run_id(conn)
    if newest is None:
        msg = f"no scoring run yet, so no {what} to export: run `placerisk score` first"
        raise errors.NotFoundError(msg)
    return int(newest)


# --- writing -----------------------------------------------------------------------------

def write_export(frame: gpd.GeoDataFrame, path: str | Path, fmt: str, *,
                 layer: str | None = None) -> Path:
    """Write an export frame to ``path`` as ``fmt`` (``geojson``, ``csv`` or ``gpkg``).

    Parameters
    ----------
    frame
        A frame built by `layers.reporting.exports` (any GeoDataFrame in EPSG:4326 will do).
    path
        The file to write; an existing GeoJSON or CSV file is replaced, an existing
        GeoPackage gets the layer added (or replaced). A new file is readable by its owner
        only (0600); an existing one is closed to others (`layers.store.files`).
    fmt
        A key of `FORMATS`.
    layer
        The layer name in GeoJSON and GeoPackage; default the export's name.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    spec = check_format(fmt)
    path = Path(path)
    if spec.driver is None:
        return write_private(path, csv_bytes(frame))
    name = layer or frame.attrs.get("export") or path.stem
    check_crs(frame.crs, WGS84, what=f"export {name}")
    options = {"RFC7946": "YES"} if spec.driver == "GeoJSON" else None
    close_to_others(path)  # a GeoPackage written into keeps its file (and SQLite its mode)
    with private_umask():
        pyogrio.write_dataframe(frame, path, driver=spec.driver, layer=name,
                                geometry_type=exports.GEOMETRY_TYPES.get(name),
                                layer_options=options)
    return path


def csv_bytes(frame: gpd.GeoDataFrame) -> bytes:
    """The frame as spreadsheet-safe CSV (see the module docstring), as UTF-8 with BOM."""
    geoms = frame.geometry.to_numpy()
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if _is_point_layer(frame):
        table["latitude"] = shapely.get_y(geoms)
        table["longitude"] = shapely.get_x(geoms)
    wkt = shapely.to_wkt(geoms, rounding_precision=WKT_DECIMALS)
    table["geometry_wkt"] = pd.Series(wkt, index=table.index, dtype=object)
    text = exports.neutralise_csv(table).to_csv(
        index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def _is_point_layer(frame: gpd.GeoDataFrame) -> bool:
    """Whether the export holds points: by its name, or else by its geometries."""
    kind = exports.GEOMETRY_TYPES.get(frame.attrs.get("export", ""))
    if kind is not None:
        return kind == "Point"
    types = frame.geom_type.dropna()
    return bool(len(types)) and bool((types == "Point").all())


def export_bytes(frame: gpd.GeoDataFrame, fmt: str, name: str) -> tuple[bytes, str, str]:
    """An export as a file's bytes, for a download.

    Parameters
    ----------
    frame
        A frame built by `layers.reporting.exports`.
    fmt
        A key of `FORMATS`.
    name
        The export's name (``places``...): the GeoPackage layer and part of the file name,
        with the run's as-of date (``frame.attrs["as_of"]``) or else today's date.

    Returns
    -------
    (bytes, str, str)
        The content, its media type and a safe file name such as
        ``placerisk-places-2025-06-30.gpkg``.
    """
    spec = check_format(fmt)
    day = frame.attrs.get("as_of") or dt.date.today()
    filename = exports.export_filename(name, spec.extension, day=day)
    if spec.driver is None:
        return csv_bytes(frame), spec.media_type, filename
    with tempfile.TemporaryDirectory(prefix="placerisk-export-") as folder:
        path = write_export(frame, Path(folder) / filename, fmt, layer=name)
        return path.read_bytes(), spec.media_type, filename
