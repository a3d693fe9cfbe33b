"""The JAG map at ``/`` and its postcode search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api import audit_trail, auth, policy
from api.deps import Conn, optional_day
from api.services.map import render_map
from layers.records import read as records_read
from layers.records.filters import MapFilter
from layers.records.places import CATEGORIES, EXPLOITATION_TYPES

router = APIRouter(tags=["map"])


@router.get("/api/search")
def search(conn: Conn, scope: auth.UserScope,
           q: Annotated[str, Query(min_length=2, max_length=40,
                                   description="Start of a postcode.")]
           ) -> dict[str, list[dict]]:
    """Find loaded postcodes by their start, for the map's search box."""
    return {"data": records_read.search_postcodes(conn, q, scope=scope)}


def get_map_filter(
    date_from: Annotated[str | None, Query(alias="from", max_length=10,
                                           description="First day, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10,
                                         description="Last day, YYYY-MM-DD.")] = None,
    exploitation_type: Annotated[str | None, Query(
        alias="type", max_length=32,
        description="One of " + ", ".join(EXPLOITATION_TYPES) + ".")] = None,
    category: Annotated[str | None, Query(
        max_length=32, description="A place category: " + ", ".join(CATEGORIES) + ".")]
    = None,
    authority: Annotated[str | None, Query(max_length=16,
                                           description="An authority code.")] = None,
) -> MapFilter:
    """The JAG map's filter from the query string; empty fields (as a form sends) are unset."""
    return MapFilter(date_from=optional_day("from", date_from), date_to=optional_day("to", date_to),
                     exploitation_type=exploitation_type or None,
                     place_category=category or None, authority_code=authority or None)


@router.get("/", response_class=HTMLResponse)
def map_page(request: Request, scope: auth.UserScope,
             within: Annotated[MapFilter, Depends(get_map_filter)]) -> HTMLResponse:
    """The JAG map: wards, cells by score or category, places, activities; filterable."""
    state = request.app.state
    free_text = policy.reads_free_text(auth.signed_in(request).user.role)
    shown = state.page_cache.page(state.store, "jag", (within, free_text, scope),
                                  lambda: render_map(state.store, state.settings, within=within,
                                                     free_text=free_text, scope=scope))
    audit_trail.returned(request, shown.counts)
    return HTMLResponse(shown.html)
