"""The ``placerisk patrol-plan`` command: a shift's patrol plan as HTML, PDF, GPX, KML or JSON."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from api.cli._common import with_store
from layers import errors
from layers.action.patrol.cells import DEFAULT_TOP, MAX_TOP
from layers.action.patrol.shift import HOURS, MAX_OFFICERS
from layers.store.engine import Store

FORMATS = ("html", "pdf", "gpx", "kml", "json")  # the keys of api.routes.plans.MEDIA_TYPES
DEFAULT_START = "18:00"
WARD_HINT = "`placerisk status` lists the loaded ward codes"


def _start(_ctx: click.Context, _param: click.Parameter, value: str) -> dt.time:
    from api.services.plans import parse_start  # matplotlib: only when needed

    try:
        return parse_start(value)
    except errors.ParameterError as exc:
        raise click.BadParameter(str(exc).removeprefix("start: ")) from None


def _count(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless one.

    Examples
    --------
    >>> _count(1, "cell"), _count(3, "visit")
    ('1 cell', '3 visits')
    """
    return f"{n} {noun}{'s' * (n != 1)}"


def _format(fmt: str | None, out: Path) -> str:
    """The format asked for, else the one named by the extension of ``out``."""
    if fmt:
        return fmt
    suffix = out.suffix.lower().lstrip(".")
    if suffix == "htm":
        suffix = "html"
    if suffix not in FORMATS:
        msg = (f"--out {out}: cannot tell the format from the extension {out.suffix!r}; "
               f"use one of .{', .'.join(FORMATS)} or pass --format {'|'.join(FORMATS)}")
        raise click.UsageError(msg)
    return suffix


def _write_plan(store: Store, *, area: str, date: dt.date, start: dt.time, hours: float,
                officers: int, top: int, out: Path, fmt: str | None) -> None:
    """Plan the shift, write ``out`` and print a one-line summary."""
    from api.services.plans import load_plan, render_plan

    fmt = _format(fmt, out)
    if not out.parent.is_dir():
        msg = f"--out {out}: the folder {out.parent} does not exist"
        raise click.UsageError(msg)
    try:
        with store.connect() as conn:
            loaded = load_plan(conn, ward_code=area, date=date, start=start, hours=hours,
                               officers=officers, top=top)
    except errors.NotFoundError as exc:
        hint = "" if str(exc).startswith("no scoring run") else f"; {WARD_HINT}"
        raise errors.NotFoundError(f"{exc}{hint}") from None
    content, _, _ = render_plan(loaded, fmt)
    out.write_bytes(content)
    plan = loaded.plan
    click.echo(f"patrol plan {plan.plan_id} for ward {area} on {date.isoformat()}: "
               f"{_count(len(plan.cells), 'cell')}, {_count(len(plan.visits), 'visit')}, "
               f"{plan.coverage:.0%} of the ward's current harm covered; "
               f"wrote {out} as {fmt} ({len(content) / 1000:.1f} kB)")
    if plan.cells.empty:
        click.secho("note: no cell of this ward scores above 0, so the plan has no visits",
                    fg="yellow", err=True)


@click.command("patrol-plan")
@click.option("--area", required=True, metavar="CODE", help="The ward code to patrol.")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]),
              metavar="YYYY-MM-DD", help="The day the shift starts.")
@click.option("--start", default=DEFAULT_START, show_default=True, metavar="HH:MM",
              callback=_start, help="Shift start, local time.")
@click.option("--hours", type=click.FloatRange(*HOURS), default=8, show_default=True,
              help="Shift length in hours.")
@click.option("--officers", type=click.IntRange(1, MAX_OFFICERS), default=1,
              show_default=True, help="Officers sharing the cells, each a stretch of the "
                                      "route.")
@click.option("--top", type=click.IntRange(1, MAX_TOP), default=DEFAULT_TOP,
              show_default=True, help="How many of the ward's top cells to visit.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="The file to write: .html, .pdf, .gpx, .kml or .json.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="File format [default: from the extension of FILE].")
@with_store
def patrol_plan(store: Store, area: str, day: dt.datetime, start: dt.time, hours: float,
                officers: int, top: int, out: Path, fmt: str | None) -> None:
    """Plan a shift's patrol of a ward's top cells: page, PDF, GPX, KML or JSON.

    Koper curve: short visits of 10-15 minutes to a hot spot, repeated every couple of
    hours at unpredictable times, deter more than long stays or drive-bys, so the plan
    spreads short visits across the shift along a route that keeps travel short.

    Bias guardrail: cells are ranked by the newest run's score from independently
    reported concern; records discovered by patrols are not counted, so patrolling a
    cell does not by itself send the next patrol back.

    Officers quote the plan id as the jag_ref of their street_patrol records; the page
    then shows what was done against what was planned. Exit status: 0 written, 1 the
    ward is unknown or nothing is scored yet (run `placerisk score`), 2 bad usage.
    """
    _write_plan(store, area=area, date=day.date(), start=start, hours=hours,
                officers=officers, top=top, out=out, fmt=fmt)
