"""The ``placerisk export`` command: cells, places, reports, activities or wards as a file."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli._common import fail, with_store
from layers import errors
from layers.reporting import export_files as export_io
from layers.reporting import export_inputs, exports
from layers.store.engine import Store

SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".gpkg": "gpkg"}


def _run_export(store: Store, what: str, fmt: str | None, out: Path, run_id: int | None
                ) -> None:
    """Write one export to ``out`` and print a one-line summary."""
    fmt = fmt or SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        fail(f"--out {out}: cannot tell the format from the extension {out.suffix!r}; "
             f"pass --format {'|'.join(export_io.FORMATS)}")
    if not out.parent.is_dir():
        fail(f"--out {out}: the folder {out.parent} does not exist")
    try:
        with store.connect() as conn:
            frame = export_inputs.load_export(conn, what, run_id=run_id)
    except errors.NotFoundError as exc:
        fail(str(exc))
    export_io.write_export(frame, out, fmt)
    run = f" of run {frame['run_id'].iloc[0]}" if "run_id" in frame and len(frame) else ""
    click.echo(f"{what}{run}: {len(frame)} rows written to {out} as {fmt} "
               f"({_size(out.stat().st_size)})")


def _size(n: int) -> str:
    """A file size for people.

    Examples
    --------
    >>> _size(512), _size(98_304), _size(3_500_000)
    ('512 B', '98.3 kB', '3.5 MB')
    """
    if n < 1000:
        return f"{n} B"
    return f"{n / 1e3:.1f} kB" if n < 1e6 else f"{n / 1e6:.1f} MB"


@click.command("export")
@click.argument("what", type=click.Choice(exports.EXPORTS))
@click.option("--format", "fmt", type=click.Choice(list(export_io.FORMATS)),
              help="File format [default: from the extension of FILE: .geojson, .csv, "
                   ".gpkg].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="The file to write. A GeoPackage keeps its other "
                                   "layers, so every export can go into one file.")
@click.option("--run-id", type=click.IntRange(min=1),
              help="The scoring run of cells and wards [default: the newest].")
@with_store
def export(store: Store, what: str, fmt: str | None, out: Path, run_id: int | None
           ) -> None:
    """Export WHAT (cells, places, reports, activities or wards) for QGIS, ArcGIS or Excel.

    Cells and wards come from the newest scoring run (or --run-id); places never
    include their notes; reports include their summary and grades. GeoJSON follows RFC
    7946 (WGS84 longitude, latitude). A GeoPackage holds one layer named WHAT. CSV is
    UTF-8 for spreadsheets: the geometry as WKT, latitude and longitude for points, and
    text starting with = + - @ prefixed with ' so that it cannot run as a formula.
    Places, reports and activities use the import columns: `placerisk import` reads
    the CSV back unchanged (places also as GeoJSON or GeoPackage).
    """
    _run_export(store, what, fmt, out, run_id)

