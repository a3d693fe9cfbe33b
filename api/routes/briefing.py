"""The JAG briefing pack: ``/briefing`` (a printable page) and ``/briefing.pdf``.

Both take ``meeting`` (required) and ``since`` (default 28 days before the meeting) as
``YYYY-MM-DD`` and go through `render_briefing`, which the ``placerisk briefing`` command
(`api.cli.briefing`) uses too. The actions section reuses the cached disruption table
(`api.services.outcomes.outcome_tables`) with its default windows, read as of the meeting.

A bad date, or a since date after the meeting, is a 422; no scoring run as of the meeting or
earlier is a 404 (`layers.errors.NotFoundError`), through the app's error table: as HTML
pages holding a meeting date form (`api.pages`). Nothing here imports `api.app`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import UserScope
from api.services.briefing import MEDIA_TYPES, render_briefing
from api.services.plans import DATE_PATTERN
from layers.dates import parse_day

router = APIRouter(tags=["briefing"])

Meeting = Annotated[str, Query(pattern=DATE_PATTERN, max_length=10,
                               description="The meeting date, YYYY-MM-DD: the pack uses the "
                                           "newest scoring run as of this day or earlier.")]
Since = Annotated[str | None, Query(pattern=DATE_PATTERN, max_length=10,
                                    description="Report changes from this day, YYYY-MM-DD "
                                                "[default: 28 days before the meeting].")]


@router.get("/briefing", response_class=HTMLResponse)
def briefing_page(request: Request, meeting: Meeting, scope: UserScope,
                  since: Since = None) -> HTMLResponse:
    """The JAG briefing pack for a meeting, print-ready (no scripts, no external requests)."""
    content = render_briefing(request.app.state.store, meeting=parse_day(meeting, "meeting"),
                              since=None if since is None else parse_day(since, "since"),
                              scope=scope, cache=request.app.state.outcomes)
    return HTMLResponse(content.decode("utf-8"))


def _responses() -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {MEDIA_TYPES["pdf"]: {}}, "description": "The pack, as an "
                                                                       "attachment."}}


@router.get("/briefing.pdf", response_class=Response,
            responses=_responses())
def briefing_pdf(request: Request, meeting: Meeting, scope: UserScope,
                 since: Since = None) -> Response:
    """The JAG briefing pack for a meeting as a PDF (A4)."""
    day = parse_day(meeting, "meeting")
    content = render_briefing(request.app.state.store, meeting=day,
                              since=None if since is None else parse_day(since, "since"),
                              fmt="pdf", scope=scope, cache=request.app.state.outcomes)
    headers = {"Content-Disposition": f'attachment; filename="placerisk-briefing-{day}.pdf"',
               "Cache-Control": "no-store"}
    return Response(content, media_type=MEDIA_TYPES["pdf"], headers=headers)
