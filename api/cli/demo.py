"""``placerisk demo-data``: a deterministic, clearly synthetic dataset, and demo accounts."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli._common import cli_user, fail, report, tty, with_store
from geo.boundaries import bundled_ward_files, read_boundaries
from layers.records import importer as loader
from layers.store.engine import Store, replace_areas


@click.command("demo-data")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--accounts/--no-accounts", default=True, show_default=True,
              help="Create one demo account per role (demo-admin, demo-analyst, demo-police, "
                   "demo-guardian) and print their passwords.")
@click.option("--boundaries", "boundary_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ward boundary file(s) to use [default: the 2024 wards of Stockton-on-Tees "
                   "and Hartlepool in data/boundaries/]. Repeat for several files.")
@click.option("--real-boundaries/--no-real-boundaries", default=True, show_default=True,
              help="Use real wards; --no-real-boundaries uses the demo's approximate areas.")
@click.option("--csv-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also keep the generated CSVs here (examples of the import formats).")
@with_store
def demo_data(store: Store, seed: int, boundary_files: tuple[Path, ...], real_boundaries: bool,
              csv_dir: Path | None, accounts: bool) -> None:
    """Generate and load a deterministic, clearly SYNTHETIC dataset for the MACE hub's area.

    Invented places, reports and activities around real town centres of Stockton-on-Tees
    and Hartlepool, on the real 2024 wards shipped in data/boundaries/ (or --boundaries).
    With --no-real-boundaries, or when those files are missing, the demo uses approximate
    areas of its own, and the map says so.
    """
    import tempfile

    import pandas as pd

    from layers.records.demo import DEMO_NOTICE, approximate_areas, make_demo_data

    files = list(boundary_files) or (bundled_ward_files() if real_boundaries else [])
    if real_boundaries and not files:
        click.secho("note: no ward files in data/boundaries/; using approximate demo areas",
                    fg="yellow", err=True)
    if files:
        sets = [read_boundaries(f).areas for f in files]
        for path, one in zip(files, sets, strict=True):
            replace_areas(store, one, source=path.name, allow_older=True)
        areas = pd.concat(sets, ignore_index=True)
    else:
        areas = approximate_areas()
        replace_areas(store, areas, source="approximate demo areas (not ONS wards)",
                      allow_older=True)
    data = make_demo_data(seed=seed, areas=areas)
    with tempfile.TemporaryDirectory() as tmp:
        folder = csv_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in ("places", "reports", "activities"):
            path = folder / f"demo_{kind}.csv"
            getattr(data, kind).to_csv(path, index=False)
            result = loader.import_file(store, kind, path, progress=tty(), actor=cli_user())
            report(result)
            if result.rejected:
                fail(f"the demo {kind} did not import cleanly; this is a bug in placerisk")
    click.secho(f"{DEMO_NOTICE}: {len(data.places)} places, {len(data.reports)} reports, "
                f"{len(data.activities)} activities in {store.url}", fg="cyan")
    if accounts:
        from api.cli.users import create_demo_accounts

        made = create_demo_accounts(store)
        if made:
            click.secho("demo accounts (synthetic; passwords shown once):", fg="cyan")
            for role, (name, password) in made.items():
                click.echo(f"  {role:<9} {name:<14} {password}")
