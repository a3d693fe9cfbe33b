"""Ward pages: an index of wards and one profile page per ward (HTML)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.audit_trail import returned
from api.auth import UserScope, signed_in
from api.policy import reads_free_text
from api.schemas import Day
from api.services.wards import render_ward, render_ward_map
from layers.hotspots import read as hotspots_read
from layers.hotspots.read import latest_run_id
from layers.records import read as records_read
from layers.store.engine import Store
from maps.style import escape

router = APIRouter(tags=["wards"])
WardCode = Annotated[str, Path(max_length=16, description="ONS ward code, such as E05014882.")]
AsOf = Annotated[Day | None, Query(
    description="Read the activities' measured effects on this day, YYYY-MM-DD "
                "[default: today].")]


@router.get("/wards", response_class=HTMLResponse)
def ward_index(request: Request, scope: UserScope) -> HTMLResponse:
    """Every loaded ward, ranked by the newest run where there is one."""
    store: Store = request.app.state.store
    with store.connect() as conn:
        areas, _ = records_read.areas(conn, geometry=False, scope=scope)
        rank: dict[str, int] = {}
        if latest_run_id(conn) is not None:
            _, ranking = hotspots_read.ward_ranking(conn, scope=scope)
            rank = dict(zip(ranking["ward_code"], ranking["rank"], strict=True))
    areas = areas.assign(rank=areas["code"].map(rank)).sort_values(["rank", "name"])
    rows = "".join(
        f'<tr><td>{escape(r.rank if pd.notna(r.rank) else "-")}</td>'
        f'<td><a href="/wards/{escape(r.code)}">{escape(r.name)}</a></td>'
        f"<td>{escape(r.code)}</td><td>{escape(r.authority_name)}</td></tr>"
        for r in areas.itertuples())
    return HTMLResponse(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>placerisk: wards</title>"
        "</head><body><h1>Wards</h1><table><tr><th>Rank</th><th>Ward</th><th>Code</th>"
        f"<th>Authority</th></tr>{rows}</table></body></html>")


@router.get("/wards/{ward_code}", response_class=HTMLResponse)
def ward_page(request: Request, ward_code: WardCode, scope: UserScope,
              as_of: AsOf = None) -> HTMLResponse:
    """A ward's profile: map, trend, places, hot cells, activities and rank."""
    from api.routes.outcomes import DEFAULT_ALPHA, DEFAULT_DAYS
    from api.services.outcomes import measured

    state = request.app.state
    free_text = reads_free_text(signed_in(request).user.role)
    # the outcome table first, where waiting is capped; the page is then quick to make
    measured(state.store, days=DEFAULT_DAYS, alpha=DEFAULT_ALPHA, crime_types=(),
             cache=state.outcomes)
    shown = state.page_cache.page(
        state.store, "ward", (ward_code, as_of, free_text, scope),
        lambda: render_ward(state.store, state.settings, ward_code, as_of=as_of,
                            free_text=free_text, scope=scope, cache=state.outcomes))
    returned(request, shown.counts)
    return HTMLResponse(shown.html)


@router.get("/wards/{ward_code}/map", response_class=HTMLResponse)
def ward_map(request: Request, ward_code: WardCode, scope: UserScope) -> HTMLResponse:
    """The map of one ward, shown inside its profile page."""
    state = request.app.state
    shown = state.page_cache.page(
        state.store, "ward-map", (ward_code, scope),
        lambda: render_ward_map(state.store, state.settings, ward_code, scope=scope))
    returned(request, shown.counts)
    return HTMLResponse(shown.html)


