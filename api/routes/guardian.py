"""The guardian view for community guardian coordinators (volunteers).

``GET /guardian`` is the map and ``GET /api/guardian/cells`` its cells as JSON. Both take no
query parameter at all: the grid (H3 resolution 7), the period (the newest complete fixed
period of the newest scoring run) and the suppression threshold k (``settings.guardian_k``,
default 5) are fixed by the server, so no two views can be differenced against each other.
FastAPI ignores undeclared parameters, so ``?k=1`` or ``?resolution=9`` change nothing. The
rules themselves are in `layers.access.disclosure`.

The page's base map is ``settings.guardian_tiles`` (none by default: ward outlines over a
plain background), and its Content-Security-Policy allows that base map only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import UserScope
from api.schemas import GuardianCellsPublic
from api.security import content_security_policy
from api.services.guardian import guardian_json, render_guardian_html

# --- JSON models (the integrator may move them to api/schemas.py) ------------------------


# --- the view ----------------------------------------------------------------------------


# --- routes: no query parameters, on purpose ---------------------------------------------

router = APIRouter(tags=["guardian"])


@router.get("/guardian", response_class=HTMLResponse)
def guardian_page(request: Request, scope: UserScope) -> HTMLResponse:
    """The guardian map: banded areas, suppressed areas and protective places."""
    state = request.app.state
    html = state.page_cache.page(
        state.store, "guardian", scope,
        lambda: render_guardian_html(state.store, state.settings, scope=scope))
    csp = content_security_policy(state.settings, tiles=state.settings.guardian_tiles)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


@router.get("/api/guardian/cells", response_model=GuardianCellsPublic)
def guardian_cells(request: Request, scope: UserScope) -> Response:
    """The guardian grid: resolution-7 cells with banded counts or "not shown"."""
    state = request.app.state
    return Response(guardian_json(state.store, state.settings, state.page_cache, scope=scope),
                    media_type="application/json")
