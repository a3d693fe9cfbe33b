"""Patrol plans for a shift: a printable page, PDF, GPX, KML and JSON.

``/patrol/plan`` (HTML), ``/patrol/plan.pdf``, ``/patrol/plan.gpx``, ``/patrol/plan.kml``
and ``/api/patrol/plan`` (JSON) all take the same query and go through `load_plan`, which
the ``placerisk patrol-plan`` command (`api.cli.patrol`) uses too. The cells come from the
newest scoring run exactly as the patrol view reads them (`api.services.patrol.load_patrol`);
the schedule is `layers.action.patrol.shift.plan_shift`; what was done against the plan comes from
the ``street_patrol`` activities whose ``jag_ref`` is the plan id.

Errors go through the app's table: an unknown ward or no scoring run is a 404
(`layers.errors.NotFoundError`), a bad parameter a 422; the HTML routes answer them with a
page holding a ward and shift form (`api.pages`). Nothing here imports `api.app`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import UserScope
from api.schemas import PatrolPlanPublic
from api.services.plans import (
    DATE_PATTERN,
    DEFAULT_START,
    MEDIA_TYPES,
    START_PATTERN,
    LoadedPlan,
    load_plan,
    parse_date,
    parse_start,
    plan_html,
    plan_json,
    render_plan,
)
from layers.action.patrol.cells import DEFAULT_TOP, MAX_TOP
from layers.action.patrol.shift import (
    HOURS,
    MAX_OFFICERS,
)
from layers.store.scope import Scope

router = APIRouter(tags=["patrol"])


# --- schemas -----------------------------------------------------------------------------


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


@router.get("/patrol/plan", response_class=HTMLResponse)
def plan_page(request: Request, q: Params, scope: UserScope) -> HTMLResponse:
    """The printable patrol plan of a ward for one shift (no scripts, no external requests)."""
    return HTMLResponse(plan_html(_load(request, q, scope)))


@router.get("/api/patrol/plan", response_model=PatrolPlanPublic)
def plan_json_route(request: Request, q: Params, scope: UserScope) -> PatrolPlanPublic:
    """The patrol plan as JSON: cells, visits by officer and time, done against planned."""
    return PatrolPlanPublic.model_validate(plan_json(_load(request, q, scope)))


def _responses(fmt: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {MEDIA_TYPES[fmt]: {}}, "description": "The file, as an attachment."}}


@router.get("/patrol/plan.pdf", response_class=Response,
            responses=_responses("pdf"))
def plan_pdf(request: Request, q: Params, scope: UserScope) -> Response:
    """The printable patrol plan as a PDF (A4)."""
    return _download(request, q, "pdf", scope)


@router.get("/patrol/plan.gpx", response_class=Response,
            responses=_responses("gpx"))
def plan_gpx(request: Request, q: Params, scope: UserScope) -> Response:
    """The patrol plan as GPX 1.1: a waypoint per cell, a route per officer."""
    return _download(request, q, "gpx", scope)


@router.get("/patrol/plan.kml", response_class=Response,
            responses=_responses("kml"))
def plan_kml(request: Request, q: Params, scope: UserScope) -> Response:
    """The patrol plan as KML 2.2: cells with their hexagons, a line per officer."""
    return _download(request, q, "kml", scope)
