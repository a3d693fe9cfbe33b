"""The ``placerisk`` command line.

Every command takes ``--db PATH`` (a SQLite file, or a ``postgresql://`` URL), before or after
its name; without it the environment variable ``PLACERISK_DB`` is used, then ``placerisk.db``
in the working folder. An explicit ``--db`` always beats the environment (`chosen_db`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from api.cli.users import cli_user
from geo.boundaries import BoundaryError, bundled_ward_files, read_boundaries
from layers.records import importer as loader
from layers.records.places import CATEGORIES, EXPLOITATION_TYPES
from layers.store import audit
from layers.store.engine import (
    DEFAULT_DB,
    ENV_DB,
    StoreError,
    open_store,
    replace_areas,
    resolve_url,
    upgrade_schema,
)

SHOWN_MESSAGES = 200


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


DB_HELP = (f"SQLite file or postgresql:// URL [default: ${ENV_DB}, else {DEFAULT_DB}; "
           "an explicit --db always wins].")


def chosen_db(ctx: click.Context, db: str | None) -> tuple[str | None, str]:
    """The database a command works on, and what chose it, in words.

    ``--db`` given to the command or before it (to ``placerisk`` itself) wins over
    ``PLACERISK_DB``, which wins over ``placerisk.db``. Two different ``--db`` options are a
    usage error: guessing which one was meant could restore over the wrong store.
    """
    before = (ctx.obj or {}).get("db")
    if db and before and db != before:
        msg = (f"--db given twice with different values ({before} before the command, {db} "
               "after it); give it once")
        raise click.UsageError(msg, ctx)
    if db or before:
        return db or before, "--db"
    if os.environ.get(ENV_DB):
        return os.environ[ENV_DB], ENV_DB
    return None, f"the default, {DEFAULT_DB} in the working folder"


def shown_url(db: str | None) -> str:
    """The URL `open_store` would open for ``db``, password hidden (for messages).

    Examples
    --------
    >>> shown_url("postgresql://ana:secret@db.example/placerisk")
    'postgresql+psycopg://ana:***@db.example/placerisk'
    """
    import sqlalchemy as sa

    return sa.make_url(resolve_url(db)).render_as_string(hide_password=True)


BeforeOpen = Callable[[str, str, dict[str, Any]], None]


def with_store(func: Callable[..., Any] | None = None, *,
               before_open: BeforeOpen | None = None) -> Callable[..., Any]:
    """Add ``--db`` to a command and pass it an open store; turn domain errors into exit 1.

    ``before_open(url, chosen_by, options)`` runs before the store is opened (or created),
    with the URL as `shown_url` gives it, what chose it (`chosen_db`) and the command's
    options: `api.cli.backup` uses it to name a restore's target and ask first.
    """
    if func is None:
        return functools.partial(with_store, before_open=before_open)

    @click.option("--db", "db", default=None, metavar="PATH|URL", help=DB_HELP)
    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx: click.Context, db: str | None, **kwargs: Any) -> Any:
        db, chosen_by = chosen_db(ctx, db)
        if before_open is not None:
            before_open(shown_url(db), chosen_by, kwargs)
        try:
            store = open_store(db)
        except StoreError as exc:
            _fail(f"{exc}. Check --db or PLACERISK_DB")
        try:
            return func(store, **kwargs)
        except (BoundaryError, StoreError, loader.ImportFileError, ValueError, LookupError) as exc:
            _fail(str(exc))
        finally:
            store.close()

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", default=None, metavar="PATH|URL",
              help="For every command below: " + DB_HELP)
@click.version_option(package_name="placerisk")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Map places where children are at risk of exploitation, for contextual safeguarding.

    \b
    Typical first run with your own data:
      placerisk boundaries load wards.geojson      # ONS ward boundaries, any CRS
      placerisk postcodes load codepoint_ts.csv    # OS Code-Point Open, for postcode-only rows
      placerisk import places places.csv           # then reports, activities, police-uk
      placerisk score                              # hot spots over time
      placerisk serve                              # map on http://127.0.0.1:8000
    """
    ctx.obj = {"db": db}


# --- db ----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@with_store
def db_upgrade(store: Any) -> None:
    """Apply pending schema migrations (also done automatically on first use)."""
    revision = upgrade_schema(store)
    click.echo(f"{store.url}: schema at revision {revision}")


# --- boundaries --------------------------------------------------------------------------

@main.group()
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
def boundaries_load(store: Any, file: Path, layer: str | None, code_field: str | None,
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
        _fail(f"{file}: no usable ward in the file")
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

@main.group()
def postcodes() -> None:
    """Load OS Code-Point Open postcodes, to locate rows that give only a postcode."""


@postcodes.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write rejected rows (default: FILE.rejects.csv beside FILE).")
@with_store
def postcodes_load(store: Any, file: Path, rejects: Path | None) -> None:
    """Load a Code-Point Open CSV (no header row; British National Grid converted to WGS84)."""
    result = loader.import_postcodes(store, file, rejects=rejects, progress=_tty(),
                                     actor=cli_user())
    sys.exit(_report(result))


@main.group("import")
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
    def command(store: Any, file: Path, rejects: Path | None) -> None:
        result = loader.import_file(store, kind, file, rejects=rejects, progress=_tty(),
                                    actor=cli_user())
        sys.exit(_report(result))


for _kind, _extra in (("places", " or GeoJSON points"), ("reports", ""), ("activities", "")):
    _import_command(_kind, _extra)


@import_.command("police-uk")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@with_store
def import_police_uk(store: Any, files: tuple[Path, ...]) -> None:
    """Import data.police.uk street-level crime CSVs, exactly as downloaded."""
    worst = 0
    for file in files:
        try:
            result = loader.import_police_uk(store, file, progress=_tty(), actor=cli_user())
        except loader.ImportFileError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            worst = max(worst, 1)
            continue
        code = _report(result)
        worst = code if worst == 0 else max(worst, code) if code else worst
    sys.exit(worst)


def _tty() -> bool:
    return sys.stderr.isatty()


def _report(result: loader.ImportResult) -> int:
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for message in result.messages[:SHOWN_MESSAGES]:
        click.echo(f"{Path(result.source).name}: {message}", err=True)
    hidden = result.rejected - min(len(result.messages), SHOWN_MESSAGES)
    if hidden > 0:
        click.echo(f"... and {hidden} more rejected rows", err=True)
    click.echo(
        f"{Path(result.source).name}: read {result.read}, inserted {result.inserted}, "
        f"updated {result.updated}, unchanged {result.unchanged}, rejected {result.rejected}, "
        f"outside every boundary {result.outside}"
    )
    if result.rejects_path:
        click.echo(f"rejected rows and their reasons: {result.rejects_path}")
    return result.exit_code


# --- status and scores -------------------------------------------------------------------

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@with_store
def status(store: Any, as_json: bool) -> None:
    """Show what the database holds: counts by level, type, authority and ward."""
    from api.status_text import format_status
    from layers.store.summary import status as collect

    figures = collect(store)
    click.echo(json.dumps(figures, indent=2, default=str) if as_json else format_status(figures))


@main.command()
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]),
              help="Score as the data stood at the end of this day: later events and records "
                   "stored later are left out [default: today, or the newest record's day "
                   "when the window to today holds no record].")
@click.option("--step", type=click.Choice(["week", "month"]), default="week", show_default=True,
              help="Time step of the space-time cube.")
@click.option("--steps", "n_steps", type=click.IntRange(3, 520),
              help="Number of steps ending at the as-of date [default: 104 weeks, 24 months].")
@click.option("--k", type=click.IntRange(1, 5), default=1, show_default=True,
              help="Gi* neighbourhood: H3 cells within K steps, the cell itself included.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.05, show_default=True, help="Significance level.")
@click.option("--correction", type=click.Choice(["fdr_bh", "holm", "none"]), default="fdr_bh",
              show_default=True, help="Multiple-testing correction per step.")
@click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file overriding the default weight table (layers/hotspots/weights.py).")
@click.option("--half-life", type=click.FloatRange(1, 3650), metavar="DAYS",
              help="Half-life of the current score [default: 90, or the weights file's].")
@click.option("--known-by", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Count records stored up to this time [default: the end of the as-of "
                   "day, which reproduces a past run exactly]. Give a later time to include "
                   "records that arrived late, such as history imported today.")
@click.option("--full", is_flag=True, help="Recompute every step instead of reusing unchanged "
                                           "steps of the last run with the same parameters.")
@with_store
def score(store: Any, as_of: dt.datetime | None, step: str, n_steps: int | None, k: int,
          alpha: float, correction: str, weights_file: Path | None,
          half_life: float | None, known_by: dt.datetime | None, full: bool) -> None:
    """Score hot spots over time: Gi* per cell and step, trends and emerging categories.

    Reports, place levels and police.uk crime are weighted (default table in
    layers/hotspots/weights.py), summed per H3 cell and week, and tested with Getis-Ord Gi* against
    the whole study area. Records discovered by patrols are left out of the score so that
    patrolling cannot make its own hot spot. The run is stored with its parameters.
    """
    from layers.hotspots.emerging import CATEGORIES
    from layers.hotspots.engine import ScoreParams
    from layers.hotspots.getis import Method
    from layers.hotspots.runs import default_as_of, run_scoring, run_warnings
    from layers.hotspots.weights import load_weights
    from layers.store.engine import utcnow

    weights = load_weights(weights_file)
    if half_life:
        weights = dataclasses.replace(weights, half_life_days=half_life)
    cutoff = known_by.replace(tzinfo=dt.UTC) if known_by else None
    day = as_of.date() if as_of else None
    if day is not None and day > dt.date.today():
        msg = (f"{day} is after today ({dt.date.today()}): the weeks to come hold no records "
               "yet and would score as quiet weeks; give today or an earlier day")
        raise click.BadParameter(msg, param_hint="'--as-of'")
    if day is None:
        day, why = default_as_of(store, today=dt.date.today(), step=step, n_steps=n_steps)
        if why:
            click.secho(f"note: {why}", fg="yellow", err=True)
            cutoff = cutoff or utcnow()  # not a past meeting's cut-off: count what is known
    params = ScoreParams(as_of=day, step=step, n_steps=n_steps, k=k, alpha=alpha,
                         correction=cast(Method, correction), weights=weights)
    run = run_scoring(store, params, known_by=cutoff, incremental=not full)
    for warning in run_warnings(run):
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    h = run.hotspots
    click.echo(f"run {run.run_id}: {len(h.steps)} {step}s to {params.as_of}, "
               f"{len(h.cells)} cells near data in a study grid of {h.grid_size}, "
               f"{run.duration_s:.2f} s ({h.reused_steps} unchanged steps reused)")
    counts = {c: int((h.category == c).sum()) for c in CATEGORIES}
    click.echo("categories: " + ", ".join(f"{c} {n}" for c, n in counts.items() if n))
    last = h.concentration.iloc[-1]
    click.echo(f"last step: {last['top_1pct']:.0%} of harm in the top 1% of cells, "
               f"{last['top_5pct']:.0%} in the top 5%, Gini {last['gini']:.2f}")
    if len(h.wards):
        top = h.wards.head(5)
        click.echo("highest wards now: " + ", ".join(
            f"{w.ward_code} ({w.current:.0f})" for w in top.itertuples()))


# --- demo, map and serve -----------------------------------------------------------------

@main.command("demo-data")
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
def demo_data(store: Any, seed: int, boundary_files: tuple[Path, ...], real_boundaries: bool,
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
            result = loader.import_file(store, kind, path, progress=_tty(), actor=cli_user())
            _report(result)
            if result.rejected:
                _fail(f"the demo {kind} did not import cleanly; this is a bug in placerisk")
    click.secho(f"{DEMO_NOTICE}: {len(data.places)} places, {len(data.reports)} reports, "
                f"{len(data.activities)} activities in {store.url}", fg="cyan")
    if accounts:
        from api.cli.users import create_demo_accounts

        made = create_demo_accounts(store)
        if made:
            click.secho("demo accounts (synthetic; passwords shown once):", fg="cyan")
            for role, (name, password) in made.items():
                click.echo(f"  {role:<9} {name:<14} {password}")


VIEWS = ("jag", "ward", "patrol", "guardian")


@main.command("map")
@click.option("--view", type=click.Choice(VIEWS), default="jag", show_default=True,
              help="jag: the analysts' map; ward: one ward's profile page; patrol: the cells "
                   "a police team should visit in a ward; guardian: the coarse, suppressed "
                   "view for community guardian volunteers.")
@click.option("--ward", "ward_code", metavar="CODE", help="Ward code, for --view ward|patrol.")
@click.option("--top", type=click.IntRange(1, 20), default=8, show_default=True,
              help="Cells to visit, for --view patrol.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="--view jag: activities, reports and crime from this day.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="--view jag: ... up to this day.")
@click.option("--type", "exploitation_type", type=click.Choice(EXPLOITATION_TYPES),
              help="--view jag: places and reports of this exploitation type.")
@click.option("--category", type=click.Choice(CATEGORIES),
              help="--view jag: places of this category (and their reports, activities).")
@click.option("--authority", metavar="CODE",
              help="--view jag: the wards of this authority (e.g. E06000004).")
@with_store
def map_(store: Any, view: str, ward_code: str | None, top: int, out: Path, **narrow: Any
         ) -> None:
    """Write a view as a standalone HTML file (Leaflet inside; no server, no CDN).

    The jag view takes filters; the map then opens on the concern reports they match.
    """
    from api.settings import Settings
    from layers.records.filters import FilterError, MapFilter

    settings = Settings.from_env()
    if view in ("ward", "patrol") and not ward_code:
        _fail(f"--view {view} needs --ward CODE (see `placerisk status` for the codes)", 2)
    days = {k: v.date() if v else None for k, v in narrow.items() if k.startswith("date")}
    try:
        within = MapFilter(**days, exploitation_type=narrow["exploitation_type"],
                           place_category=narrow["category"],
                           authority_code=narrow["authority"])
    except FilterError as exc:
        _fail(f"{exc}", 2)
    if within.active and view != "jag":
        _fail("--from, --to, --type, --category and --authority apply to --view jag only", 2)
    html = _render_view(store, settings, view, str(ward_code), top, within)
    out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out} ({len(html.encode()) / 1e6:.1f} MB)")


def _render_view(store: Any, settings: Any, view: str, ward_code: str, top: int,
                 within: Any) -> str:
    from api.services.guardian import render_guardian_html
    from api.services.map import render_map_html
    from api.services.patrol import render_patrol_html
    from api.services.wards import render_ward_html

    if view == "ward":
        return render_ward_html(store, settings, ward_code, standalone=True)
    if view == "patrol":
        return render_patrol_html(store, settings, ward_code=ward_code, top=top,
                                  standalone=True)
    if view == "guardian":
        return render_guardian_html(store, settings, standalone=True)
    return render_map_html(store, settings, standalone=True, within=within)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.option("--db", "db", default=None, metavar="PATH|URL", help=DB_HELP)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, db: str | None) -> None:
    """Serve the map and the JSON/GeoJSON API (OpenAPI at /docs)."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(chosen_db(ctx, db)[0])
    except SettingsError as exc:
        _fail(str(exc))
    try:
        app = create_app(settings)
    except StoreError as exc:
        _fail(f"{exc}. Check --db or PLACERISK_DB")
    click.secho(f"placerisk: serving on http://{host}:{port}/  (API docs: /docs)", fg="green")
    # Proxy headers only from PLACERISK_TRUSTED_PROXIES: uvicorn would believe any
    # X-Forwarded-For from 127.0.0.1 otherwise, and the audit log record a forged address.
    uvicorn.run(app, host=host, port=port, log_level="warning",
                proxy_headers=settings.proxy_headers,
                forwarded_allow_ips=settings.forwarded_allow_ips or None)


# Commands of their own modules: each builder takes `with_store`, defined above.
from api.cli import backup as cli_backup  # noqa: E402
from api.cli import briefing as cli_briefing  # noqa: E402
from api.cli import exports as cli_exports  # noqa: E402
from api.cli import outcomes as cli_outcomes  # noqa: E402
from api.cli import patrol as cli_patrol  # noqa: E402
from api.cli import review as cli_review  # noqa: E402
from api.cli import users as cli_users  # noqa: E402

for _build in (cli_exports.build_command, cli_outcomes.build_command,
               cli_briefing.build_command, cli_patrol.build_command):
    main.add_command(_build(with_store))
for _build_all in (cli_users.build_commands, cli_backup.build_commands,
                   cli_review.build_commands):
    for _command in _build_all(with_store):
        main.add_command(_command)
