"""``placerisk boundaries``, ``postcodes`` and ``import``: the records the scores are made of.

Ward boundaries (ONS GeoJSON, GeoPackage or Shapefile), OS Code-Point Open postcodes, and
places, concern reports, activities and police.uk street-level crime from CSV files. Every
load is audited as ``cli:<login name>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli._common import cli_user, fail, report, tty, with_store
from geo.boundaries import read_boundaries
from layers.records import importer as loader
from layers.store import audit
from layers.store.engine import Store, replace_areas

# --- boundaries --------------------------------------------------------------------------

@click.group()
def boundaries() -> None:
    """Load ward boundaries (ONS GeoJSON, GeoPackage or Shapefile)."""


@boundaries.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--layer", help="Layer to read from a GeoPackage with several layers.")
@click.option("--code-field", help="Column with the ward code (default: recognised, e.g. WD24CD).")
@click.option("--name-field", help="Column with the ward name (default: recognised, e.g. WD24NM).")
@click.option("--authority", help="Local authority code, when the file has no LADxxCD column.")
@click.option("--authority-name", help="Local authority name, with --authority.")
@click.option("--vintage", help="Boundary vintage such as 2024, when field names don't tell.")
@click.option("--allow-older", is_flag=True, help="Replace newer boundaries with older ones.")
@with_store
def boundaries_load(store: Store, file: Path, layer: str | None, code_field: str | None,
                    name_field: str | None, authority: str | None,
                    authority_name: str | None, vintage: str | None, allow_older: bool) -> None:
    """Load ward boundaries from FILE and re-assign the ward of every stored record.

    A newer vintage for an authority replaces the older one; authorities side by side
    (Hartlepool and Stockton-on-Tees, say) are kept together.
    """
    loaded = read_boundaries(file, layer=layer, code_field=code_field, name_field=name_field,
                             authority_code=authority, authority_name=authority_name,
                             vintage=vintage)
    for note in loaded.repaired:
        click.secho(f"repaired: {note}", fg="yellow", err=True)
    for note in loaded.rejected:
        click.secho(f"rejected: {note}", fg="red", err=True)
    if loaded.areas.empty:
        fail(f"{file}: no usable ward in the file")
    result = replace_areas(store, loaded.areas, source=file.name, allow_older=allow_older)
    audit.record(store, action="import", user_name=cli_user(), object_type="boundaries",
                 object_ids=[file.name], detail=f"{result.wards} wards; authorities "
                 + ", ".join(result.authorities))
    vintages = ", ".join(sorted(set(loaded.areas["vintage"])))
    for code, name in result.authorities.items():
        old = ", ".join(result.replaced.get(code, [])) or "none"
        click.echo(f"{name} ({code}): loaded {vintages} wards (replaced: {old})")
    click.echo(f"{result.wards} wards stored; records re-assigned: "
               + ", ".join(f"{k} {v}" for k, v in result.reassigned.items()))
    click.echo("outside every boundary: "
               + ", ".join(f"{k} {v}" for k, v in result.outside.items()))
    if loaded.rejected:
        sys.exit(2)


# --- postcodes and imports ---------------------------------------------------------------

@click.group()
def postcodes() -> None:
    """Load OS Code-Point Open postcodes, to locate rows that give only a postcode."""


@postcodes.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write rejected rows (default: FILE.rejects.csv beside FILE).")
@with_store
def postcodes_load(store: Store, file: Path, rejects: Path | None) -> None:
    """Load a Code-Point Open CSV (no header row; British National Grid converted to WGS84)."""
    result = loader.import_postcodes(store, file, rejects=rejects, progress=tty(),
                                     actor=cli_user())
    sys.exit(report(result))


@click.group("import")
def import_() -> None:
    """Import places, reports, activities or police.uk crime.

    \b
    Own CSV formats (column names case-insensitive, unknown columns ignored with a warning):
      places:     place_id,name,category,address,postcode,latitude,longitude,mace_level,
                  exploitation_types,source_agency,assessed_on,review_due,notes
      reports:    report_id,reported_on,place_id,latitude,longitude,postcode,mace_level,
                  exploitation_type,source_agency,patrol_discovered,source_grade,
                  intel_grade,handling_code,summary
      activities: activity_id,activity_type,started_at,ended_at,place_id,latitude,
                  longitude,postcode,agency,outcome,jag_ref
    A row may give a postcode instead of coordinates, or (reports, activities) only a
    place_id. Exit status: 0 all imported, 2 some rows rejected, 1 nothing imported.
    """


def _import_command(kind: str, extra: str = "") -> None:
    @import_.command(kind, help=f"Import {kind} from FILE (CSV{extra}). Re-importing the "
                                "same file changes nothing; rows are matched on their id.")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
                  help="Where to write rejected rows (default: FILE.rejects.csv beside FILE).")
    @with_store
    def command(store: Store, file: Path, rejects: Path | None) -> None:
        result = loader.import_file(store, kind, file, rejects=rejects, progress=tty(),
                                    actor=cli_user())
        sys.exit(report(result))


for _kind, _extra in (("places", " or GeoJSON points"), ("reports", ""), ("activities", "")):
    _import_command(_kind, _extra)


@import_.command("police-uk")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@with_store
def import_police_uk(store: Store, files: tuple[Path, ...]) -> None:
    """Import data.police.uk street-level crime CSVs, exactly as downloaded."""
    worst = 0
    for file in files:
        try:
            result = loader.import_police_uk(store, file, progress=tty(), actor=cli_user())
        except loader.ImportFileError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            worst = max(worst, 1)
            continue
        code = report(result)
        worst = code if worst == 0 else max(worst, code) if code else worst
    sys.exit(worst)
