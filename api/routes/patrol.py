"""The patrol view for neighbourhood teams: ``/patrol`` (HTML) and ``/api/patrol`` (JSON).

Both read the newest scoring run's cells of one ward and pass them to
`layers.action.patrol.cells.patrol_cells`. The view holds cells, radio labels, scores and categories
only: no place names, notes, summaries or grades. This module imports nothing from `api.app`, so the
app can include `router` without an import cycle; the app's error table turns
`layers.errors.NotFoundError` into a 404 and `ParameterError` into a 422 (HTML pages with a
ward picker for ``/patrol``, `api.pages`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import UserScope
from api.schemas import PatrolPublic
from api.services.patrol import load_patrol, render_patrol_html
from layers.action.patrol.cells import DEFAULT_TOP, MAX_TOP, tour_length_m
from layers.store import paging

router = APIRouter(tags=["patrol"])


# --- schemas -----------------------------------------------------------------------------


# --- routes ------------------------------------------------------------------------------

def _conn(request: Request) -> Iterator[sa.Connection]:
    with request.app.state.store.connect() as conn:
        yield conn


Ward = Annotated[str, Query(min_length=1, max_length=16,
                            description="The ward code (GET /api/areas lists them).")]
TopCells = Annotated[int, Query(ge=1, le=MAX_TOP, description="How many cells to visit.")]
Seed = Annotated[int | None, Query(ge=0, le=2**31 - 1, description=(
    "Varies the suggested dwell times (10-15 min); use the shift's date, e.g. 20250630."))]


@router.get("/patrol", response_class=HTMLResponse)
def patrol_page(request: Request, ward: Ward, scope: UserScope, top: TopCells = DEFAULT_TOP,
                seed: Seed = None) -> HTMLResponse:
    """The patrol view of a ward: target cells, radio labels, visiting order and dwell."""
    state = request.app.state  # kept rendered until the data change (`api.page_cache`)
    return HTMLResponse(state.page_cache.page(
        state.store, "patrol", (ward, top, seed, scope),
        lambda: render_patrol_html(state.store, state.settings, ward_code=ward, top=top,
                                   seed=seed, scope=scope)))


@router.get("/api/patrol", response_model=PatrolPublic)
def patrol_json(conn: Annotated[sa.Connection, Depends(_conn)], ward: Ward, scope: UserScope,
                top: TopCells = DEFAULT_TOP, seed: Seed = None) -> PatrolPublic:
    """The patrol view of a ward as JSON: cells in visiting order with label and dwell."""
    view = load_patrol(conn, ward_code=ward, top=top, seed=seed, scope=scope)
    data: list[dict[str, Any]] = paging.records(view.plan)
    return PatrolPublic.model_validate({
        "ward_code": view.ward_code, "run_id": view.run_id, "as_of": view.as_of,
        "score_includes_patrol_records": view.includes_patrol,
        "covered_share": float(view.plan["share_of_ward_score"].sum()),
        "tour_metres": tour_length_m(view.plan), "data": data, "count": len(data)})
