"""Write export frames as GeoJSON, CSV or GeoPackage (read by `layers.reporting.export_inputs`).

* **GeoJSON** follows RFC 7946: WGS84 longitude/latitude, no ``crs`` member, exterior rings
  counter-clockwise (GDAL's ``RFC7946=YES``).
* **CSV** is for spreadsheets: UTF-8 with a byte order mark so that Excel reads it as UTF-8,
  text quoted and defused against formulas (`layers.records.spreadsheet.neutralise_csv`), the
  geometry as WKT in ``geometry_wkt`` and, for points, ``latitude`` and ``longitude`` columns too.
  The CSV of places, reports and activities imports back unchanged (`layers.records.importer`).
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

from geo.crs import WGS84, check_crs
from layers.records import spreadsheet
from layers.reporting import exports
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
    text: str = spreadsheet.neutralise_csv(table).to_csv(
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
