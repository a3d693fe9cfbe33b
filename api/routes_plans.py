"""Patrol plans for a shift: a printable page, PDF, GPX, KML and JSON.

``/patrol/plan`` (HTML), ``/patrol/plan.pdf``, ``/patrol/plan.gpx``, ``/patrol/plan.kml``
and ``/api/patrol/plan`` (JSON) all take the same query and go through `load_plan`, which
the ``placerisk patrol-plan`` command (`api.cli_patrol`) uses too. The cells come from the
newest scoring run exactly as the patrol view reads them (`api.routes_patrol.load_patrol`);
the schedule is `layers.action.patrol.shift.plan_shift`; what was done against the plan comes from
the ``street_patrol`` activities whose ``jag_ref`` is the plan id.

Errors go through the app's table: an unknown ward or no scoring run is a 404
(`layers.errors.NotFoundError`), a bad parameter a 422; the HTML routes answer them with a
page holding a ward and shift form (`api.pages`). Nothing here imports `api.app`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from api.auth import UserScope
from api.routes_patrol import load_patrol
from api.schemas import LocalDateTime
from geo.crs import WGS84
from layers import errors
from layers.action.patrol.cells import DEFAULT_TOP, MAX_TOP
from layers.action.patrol.formats import to_gpx, to_kml
from layers.action.patrol.shift import (
    HOURS,
    MAX_OFFICERS,
    PatrolPlan,
    plan_shift,
    plan_to_dict,
    plan_vs_done,
)
from layers.dates import out_of_range
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.store import paging
from layers.store.scope import Scope
from maps.plan_page import html_to_pdf, plan_map_png, plan_page_html

STREET_PATROL = "street_patrol"
DEFAULT_START = "18:00"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
START_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8", "pdf": "application/pdf",
    "gpx": "application/gpx+xml", "kml": "application/vnd.google-earth.kml+xml",
    "json": "application/json",
}

router = APIRouter()


@dataclass(frozen=True)
class LoadedPlan:
    """A plan read from the store, with what the page and the JSON show beside it."""

    plan: PatrolPlan
    done: pd.DataFrame
    ward_name: str
    areas: gpd.GeoDataFrame
    independent: bool
    run_id: int
    as_of: dt.date
    demo: str | None  # the demo-data notice, if any


def parse_date(text: str) -> dt.date:
    """Read a ``YYYY-MM-DD`` day; `layers.errors.ParameterError` naming the input if not.

    Examples
    --------
    >>> parse_date("2025-06-30")
    datetime.date(2025, 6, 30)
    """
    if not re.fullmatch(DATE_PATTERN, text):
        msg = f"date: {text!r} is not a date; use YYYY-MM-DD"
        raise errors.ParameterError(msg)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        msg = f"date: {text!r} is not a day of the calendar; use YYYY-MM-DD"
        raise errors.ParameterError(msg) from None
    wrong = out_of_range(day, "date")
    if wrong:
        raise errors.ParameterError(wrong)
    return day


def parse_start(text: str) -> dt.time:
    """Read a ``HH:MM`` clock time (00:00 to 23:59); `ParameterError` if not.

    Examples
    --------
    >>> parse_start("18:30")
    datetime.time(18, 30)
    """
    if not re.fullmatch(START_PATTERN, text):
        msg = f"start: {text!r} is not a time of day; use HH:MM from 00:00 to 23:59"
        raise errors.ParameterError(msg)
    return dt.time.fromisoformat(text)


def _ward_name(conn: sa.Connection, ward_code: str) -> str:
    areas, _ = records_read.areas(conn, geometry=False)
    names = areas.loc[areas["code"] == ward_code, "name"]
    return "" if names.empty or pd.isna(names.iloc[0]) else str(names.iloc[0])


def load_plan(conn: sa.Connection, *, ward_code: str, date: dt.date,
              start: dt.time = dt.time(18, 0), hours: float = 8, officers: int = 1,
              top: int = DEFAULT_TOP, scope: Scope = None) -> LoadedPlan:
    """Plan a shift from the newest scoring run and compare it with the patrols recorded.

    Raises
    ------
    layers.errors.NotFoundError
        If the ward is not a loaded area (of ``scope``, the authorities the planner may
        see, `layers.store.scope`) or nothing has been scored yet.
    layers.errors.ParameterError
        If a shift input is out of range (see `layers.action.patrol.shift.plan_shift`).
    """
    # the ward exists (for this reader) and a run too
    view = load_patrol(conn, ward_code=ward_code, top=1, scope=scope)
    cells = hotspots_read.cells(conn, ward_code=ward_code, run_id=view.run_id, scope=scope).rows
    try:
        plan = plan_shift(cells, ward_code=ward_code, date=date, start=start, hours=hours,
                          officers=officers, top=top)
    except ValueError as exc:
        raise errors.ParameterError(str(exc)) from exc
    patrols = records_read.activities(conn, ward_code=ward_code, activity_type=STREET_PATROL,
                                 scope=scope).rows
    geometry = [] if view.geometry is None else [view.geometry]
    return LoadedPlan(
        plan=plan, done=plan_vs_done(plan, patrols), ward_name=_ward_name(conn, ward_code),
        areas=gpd.GeoDataFrame(geometry=geometry, crs=WGS84),
        independent=not view.includes_patrol, run_id=view.run_id, as_of=view.as_of,
        demo=view.demo)


def plan_json(loaded: LoadedPlan) -> dict[str, Any]:
    """The plan as JSON-ready data: `plan_to_dict` plus the run and done-against-planned."""
    return {
        **plan_to_dict(loaded.plan), "ward_name": loaded.ward_name, "run_id": loaded.run_id,
        "as_of": loaded.as_of.isoformat(),
        "score_includes_patrol_records": not loaded.independent,
        "done": paging.records(loaded.done),
    }


def plan_html(loaded: LoadedPlan) -> str:
    """The printable page of the plan, its map embedded."""
    return plan_page_html(
        loaded.plan, ward_name=loaded.ward_name, done=loaded.done,
        map_png=plan_map_png(loaded.plan, areas=loaded.areas),
        independent=loaded.independent, as_of=loaded.as_of,
        notice=loaded.demo)


def render_plan(loaded: LoadedPlan, fmt: str) -> tuple[bytes, str, str]:
    """The plan as ``(content, media type, file name)`` in ``fmt`` (a `MEDIA_TYPES` key)."""
    if fmt not in MEDIA_TYPES:
        msg = f"format {fmt!r} is not one of {', '.join(MEDIA_TYPES)}"
        raise ValueError(msg)
    if fmt == "json":
        text = json.dumps(plan_json(loaded), indent=2) + "\n"
    elif fmt == "gpx":
        text = to_gpx(loaded.plan)
    elif fmt == "kml":
        text = to_kml(loaded.plan)
    else:
        text = plan_html(loaded)
    content = html_to_pdf(text) if fmt == "pdf" else text.encode("utf-8")
    return content, MEDIA_TYPES[fmt], f"{loaded.plan.plan_id}.{fmt}"


# --- schemas -----------------------------------------------------------------------------

class PlanCell(BaseModel):
    """A cell of the plan, in its officer's visiting order."""

    officer: int
    order: int
    label: str
    h3_cell: str
    lat: float
    lng: float
    score: float
    category: str | None
    dwell_minutes: int
    share_of_ward_score: float


class PlanVisit(BaseModel):
    """One visit: who, which cell, when."""

    officer: int
    round: int
    order: int
    label: str
    h3_cell: str
    arrive: LocalDateTime
    leave: LocalDateTime
    dwell_minutes: int


class PlanDone(BaseModel):
    """Planned and done visits of a cell; the last row counts patrols outside the plan."""

    officer: int
    order: int
    label: str
    h3_cell: str
    planned_visits: int
    planned_minutes: int
    done_visits: int
    done_minutes: float
    done_unknown_minutes: int
    status: str


class PatrolPlanPublic(BaseModel):
    """A shift's patrol plan for one ward, with what was done against it."""

    plan_id: str
    ward_code: str
    ward_name: str
    date: dt.date
    start: LocalDateTime
    end: LocalDateTime
    officers: int
    speed_kmh: float
    coverage: float
    tour_length_m: float
    run_id: int
    as_of: dt.date
    score_includes_patrol_records: bool
    cells: list[PlanCell]
    visits: list[PlanVisit]
    done: list[PlanDone]


# --- routes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanQuery:
    """The query of every plan route, parsed."""

    ward: str
    date: dt.date
    start: dt.time
    hours: float
    officers: int
    top: int


def plan_query(
    ward: Annotated[str, Query(min_length=1, max_length=16,
                               description="The ward code (GET /api/areas lists them).")],
    date: Annotated[str, Query(pattern=DATE_PATTERN, max_length=10,
                               description="The day the shift starts, YYYY-MM-DD.")],
    start: Annotated[str, Query(pattern=START_PATTERN, max_length=5,
                                description="Shift start, HH:MM (local time).")]
    = DEFAULT_START,
    hours: Annotated[float, Query(ge=HOURS[0], le=HOURS[1], allow_inf_nan=False,
                                  description="Shift length in hours.")] = 8,
    officers: Annotated[int, Query(ge=1, le=MAX_OFFICERS,
                                   description="Officers sharing the cells.")] = 1,
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="How many cells to visit.")]
    = DEFAULT_TOP,
) -> PlanQuery:
    """Read and check the plan's query."""
    return PlanQuery(ward=ward, date=parse_date(date), start=parse_start(start), hours=hours,
                     officers=officers, top=top)


Params = Annotated[PlanQuery, Depends(plan_query)]


def _load(request: Request, q: PlanQuery, scope: Scope) -> LoadedPlan:
    with request.app.state.store.connect() as conn:
        return load_plan(conn, ward_code=q.ward, date=q.date, start=q.start, hours=q.hours,
                         officers=q.officers, top=q.top, scope=scope)


def _download(request: Request, q: PlanQuery, fmt: str, scope: Scope) -> Response:
    content, media_type, filename = render_plan(_load(request, q, scope), fmt)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"',
               "Cache-Control": "no-store"}
    return Response(content, media_type=media_type, headers=headers)


@router.get("/patrol/plan", response_class=HTMLResponse, tags=["patrol"])
def plan_page(request: Request, q: Params, scope: UserScope) -> HTMLResponse:
    """The printable patrol plan of a ward for one shift (no scripts, no external requests)."""
    return HTMLResponse(plan_html(_load(request, q, scope)))


@router.get("/api/patrol/plan", response_model=PatrolPlanPublic, tags=["patrol"])
def plan_json_route(request: Request, q: Params, scope: UserScope) -> PatrolPlanPublic:
    """The patrol plan as JSON: cells, visits by officer and time, done against planned."""
    return PatrolPlanPublic.model_validate(plan_json(_load(request, q, scope)))


def _responses(fmt: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {MEDIA_TYPES[fmt]: {}}, "description": "The file, as an attachment."}}


@router.get("/patrol/plan.pdf", response_class=Response, tags=["patrol"],
            responses=_responses("pdf"))
def plan_pdf(request: Request, q: Params, scope: UserScope) -> Response:
    """The printable patrol plan as a PDF (A4)."""
    return _download(request, q, "pdf", scope)


@router.get("/patrol/plan.gpx", response_class=Response, tags=["patrol"],
            responses=_responses("gpx"))
def plan_gpx(request: Request, q: Params, scope: UserScope) -> Response:
    """The patrol plan as GPX 1.1: a waypoint per cell, a route per officer."""
    return _download(request, q, "gpx", scope)


@router.get("/patrol/plan.kml", response_class=Response, tags=["patrol"],
            responses=_responses("kml"))
def plan_kml(request: Request, q: Params, scope: UserScope) -> Response:
    """The patrol plan as KML 2.2: cells with their hexagons, a line per officer."""
    return _download(request, q, "kml", scope)
