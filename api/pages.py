"""Browser pages: the sign-in redirect and HTML error pages with a way forward.

Whether a route is a page is decided by the route, not by the Accept header: its rule in
`api.policy.POLICY` says so (`api.policy.Rule.page`). For a page,

- a signed-out caller is redirected (303) to ``/login?next=<the path and query asked for>``;
- a signed-in caller of the wrong role gets an HTML 403 page linking the pages they may see;
- a domain error (`api.errors.ERROR_STATUS`) or a request FastAPI cannot validate gets an HTML
  page (`maps.pages.error_page_html`) with the message and a way forward: the briefing
  pack asks for a meeting date (the last pack's meeting, or today), the patrol view and
  plan for a ward (names and codes from the store) and a shift (today, 18:00, 8 hours, 2
  officers), a missing ward links to ``/wards`` and the map.

Every other route (``/api/...`` and the files pages link to) keeps its JSON answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from api.policy import HOME, rule_for
from layers.action.patrol.shift import HOURS, MAX_OFFICERS
from layers.dates import parse_day
from layers.errors import ParameterError
from layers.hotspots import read as hotspots_read
from layers.hotspots.read import latest_run_id
from layers.records import read as records_read
from layers.store import audit
from layers.store.engine import Store
from layers.store.scope import Scope
from maps import pages

# The pages to link to, by name (the patrol view and plan, and the pack, ask for a choice).
NAV = {"/": "The JAG map", "/wards": "Wards", "/patrol": "Patrol view",
       "/patrol/plan": "Patrol plan for a shift", "/briefing": "JAG briefing pack",
       "/outcomes": "Disruption outcomes", "/review": "Places due for review",
       "/guardian": "Guardian view", "/docs": "API documentation"}
BRIEFING = ("/briefing",)
PATROL = ("/patrol",)
PLAN = ("/patrol/plan",)
MAX_NEXT = 200
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def route_path(request: Request) -> str:
    """The path template of the route answering ``request`` (its URL path if none)."""
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path))


def is_page(request: Request) -> bool:
    """Whether ``request`` is for a page (`api.policy.Rule.page`)."""
    rule = rule_for(request.method, route_path(request))
    return rule is not None and rule.page


def asked_for(request: Request) -> str:
    """The path and query the caller asked for, to come back to after signing in."""
    query = request.url.query
    return (quote(request.url.path) + (f"?{query}" if query else ""))[:MAX_NEXT]


def login_redirect(request: Request) -> RedirectResponse:
    """303 to the sign-in page, which comes back here afterwards."""
    return RedirectResponse("/login?" + urlencode({"next": asked_for(request)}),
                            status_code=303)


def pages_for(role: str | None, *, docs: bool = True) -> list[tuple[str, str]]:
    """``(href, name)`` of the `NAV` pages ``role`` may open; the sign-in page if none.

    ``docs``: whether ``/docs`` is served (not in production).

    Examples
    --------
    >>> [href for href, _ in pages_for("guardian")]
    ['/guardian', '/docs']
    """
    if role is None:
        return [("/login", "Sign in")]
    found = []
    for href, name in NAV.items():
        rule = rule_for("GET", href)
        if rule is not None and role in rule.roles and (docs or href != "/docs"):
            found.append((href, name))
    return found


def _role(request: Request) -> str | None:
    session = getattr(request.state, "session", None)
    return session.user.role if session is not None else None


def _readers_pages(request: Request) -> list[tuple[str, str]]:
    return pages_for(_role(request), docs=not request.app.state.settings.production)


# --- ways forward --------------------------------------------------------------------------

def _day(text: str | None) -> dt.date | None:
    """A day for a form's default: `layers.dates.parse_day`, or ``None`` when it is not one."""
    try:
        return parse_day(text, "date") if text else None
    except ParameterError:
        return None


def last_meeting(store: Store) -> dt.date | None:
    """The meeting date of the newest briefing pack asked for (from the audit log)."""
    with store.connect() as conn:
        rows = audit.query(conn, action="briefing", limit=50)
    for ids in rows["object_ids"] if len(rows) else ():
        day = _day(str(ids)) if ids else None
        if day is not None:
            return day
    return None


def ward_choices(store: Store, scope: Scope = None) -> tuple[pd.DataFrame, str | None]:
    """Every loaded ward (``code``, ``name``) by name, and the newest run's top-ranked one.

    ``scope``: the wards of the authorities the reader may see (`layers.store.scope`).
    """
    with store.connect() as conn:
        areas, _ = records_read.areas(conn, geometry=False, scope=scope)
        top = None
        if latest_run_id(conn) is not None:
            _, ranking = hotspots_read.ward_ranking(conn, scope=scope)
            top = str(ranking["ward_code"].iloc[0]) if len(ranking) else None
    wards = pd.DataFrame(areas[["code", "name"]]).sort_values(["name", "code"])
    return wards.reset_index(drop=True), top


def _number(text: str | None, low: float, high: float, default: float) -> float:
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if low <= value <= high else default


def _plan_defaults(request: Request) -> dict[str, object]:
    """The shift shown in the plan form: the query's valid values, else the defaults."""
    q = request.query_params
    start = q.get("start", "")
    hours = _number(q.get("hours"), *HOURS, pages.DEFAULT_HOURS)
    return {"date": (_day(q.get("date")) or dt.date.today()).isoformat(),
            "start": start if _TIME.fullmatch(start) else pages.DEFAULT_START,
            "hours": f"{hours:g}",
            "officers": int(_number(q.get("officers"), 1, MAX_OFFICERS,
                                    pages.DEFAULT_OFFICERS))}


def _scope(request: Request) -> Scope:
    """The reader's scope; a page answered without a session offers no ward at all."""
    session = getattr(request.state, "session", None)
    return session.user.authorities if session is not None else frozenset()


def _ward_form(request: Request, path: str) -> tuple[str | None, str]:
    """"Choose a ward" when none or an unknown one was asked for, and the form."""
    wards, top = ward_choices(request.app.state.store, _scope(request))
    asked = request.query_params.get("ward")
    known = asked in set(wards["code"])
    form = pages.ward_form_html(action=request.url.path, wards=wards,
                                selected=asked if known else top,
                                plan=_plan_defaults(request) if path in PLAN else None)
    return (None if known else "Choose a ward"), form


def way_forward(request: Request, status: int) -> tuple[str | None, str, list[tuple[str, str]]]:
    """A heading, a form and links that lead on from an error on this page."""
    path, q = route_path(request), request.query_params
    links: list[tuple[str, str]] = []
    heading, form = None, ""
    if path in BRIEFING:
        meeting = _day(q.get("meeting"))
        heading = None if meeting else "Choose a meeting date"
        form = pages.briefing_form_html(
            action=request.url.path, since=_day(q.get("since")),
            meeting=meeting or last_meeting(request.app.state.store) or dt.date.today())
    elif path in PATROL + PLAN:
        heading, form = _ward_form(request, path)
    elif path.startswith("/wards/"):
        heading = "Ward not found" if status == 404 else None
        links = [("/wards", "All wards"), ("/", "The JAG map")]
    elif path == "/outcomes":
        links = [("/outcomes", "Disruption outcomes with the default windows")]
    return heading, form, links


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The HTML page for an error on a page: message, way forward, the reader's pages."""
    heading, form, links = way_forward(request, status)
    seen = {href for href, _ in links}
    links += [(href, name) for href, name in _readers_pages(request) if href not in seen]
    return HTMLResponse(pages.error_page_html(status, message, heading=heading, form=form,
                                              links=links), status_code=status)


def forbidden_page(request: Request, message: str) -> HTMLResponse:
    """403 for a signed-in reader of the wrong role, linking the pages they may see."""
    role = _role(request)
    home = HOME.get(role or "", "/login")
    links = [(home, "Your home page")] + [p for p in _readers_pages(request) if p[0] != home]
    return HTMLResponse(pages.error_page_html(
        403, f"{message}. These are the pages you may open:", heading="Not allowed",
        links=links), status_code=403)


def validation_message(errors: Sequence[dict[str, Any]]) -> str:
    """FastAPI's validation errors in words, saying what to do next.

    Examples
    --------
    >>> validation_message([{"type": "missing", "loc": ("query", "meeting"), "msg": "x"}])
    'meeting is needed.'
    """
    parts = []
    for error in errors:
        name = str(error.get("loc", ("", "value"))[-1])
        parts.append(f"{name} is needed" if error.get("type") == "missing"
                     else f"{name}: {error.get('msg', 'not valid')}")
    return "; ".join(parts) + "."


def validation_page(request: Request, exc: RequestValidationError) -> HTMLResponse:
    """422 for a page whose query FastAPI could not read: what to fix, and the form."""
    return error_page(request, 422, validation_message(exc.errors()))
