"""The placerisk web app: `create_app` and nothing else.

``create_app(settings)`` opens the store once and keeps it on ``app.state``; every request
reads through its own connection (`api.deps.Conn`). The routes are in `api.routes`, one
module per resource; what they render or compute is in `api.services`, which the CLI uses
too; errors become statuses in `api.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from api import audit_trail, auth, docs, errors, security
from api.page_cache import PageCache
from api.routes import (
    activities,
    areas,
    audit,
    briefing,
    cells,
    explain,
    exports,
    guardian,
    outcomes,
    patrol,
    places,
    plans,
    reports,
    review,
    runs,
    service,
    tiles,
    wards,
)
from api.routes import auth as routes_auth
from api.routes import map as jag_map
from api.services import outcomes as outcome_service
from api.settings import Settings
from layers.access.disclosure import check_k
from layers.store.engine import open_store
from maps import assets

# In this order: a path two routers could match goes to the first.
ROUTERS = (service, jag_map, places, reports, activities, cells, areas, runs, explain, wards,
           patrol, plans, guardian, outcomes, audit, briefing, review, exports)


def create_app(settings: Settings) -> FastAPI:
    """Build the app over the store named by ``settings.db``, opened once.

    Parameters
    ----------
    settings
        Database, base map tiles and page size limit.

    Returns
    -------
    fastapi.FastAPI
        The store is on ``app.state.store`` and closed when the app shuts down.
    """
    check_k(settings.guardian_k)  # refuse a misconfigured guardian threshold at start-up
    tiles.check_tiles(settings)  # and a base map no page could draw
    store = open_store(settings.db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="placerisk",
        summary="Places where children are at risk of exploitation (no person data).",
        lifespan=lifespan,
        dependencies=[Depends(auth.authorize), Depends(security.refuse_nul)],
        docs_url=None, redoc_url=None, openapi_url=None,  # served below, behind sign-in
    )
    app.state.settings = settings
    app.state.store = store
    app.state.page_cache = PageCache()
    app.state.outcomes = outcome_service.new_cache(slots=settings.heavy_slots,
                                                   queue=settings.heavy_queue)
    errors.install(app)
    app.include_router(routes_auth.router)
    if not settings.production:
        app.include_router(docs.router)
    for module in ROUTERS:
        app.include_router(module.router)
    _mount_static(app, settings)
    app.include_router(tiles.router)
    pmtiles_js = assets.pmtiles_js()
    if pmtiles_js is not None:
        app.mount(assets.PMTILES_ROUTE, StaticFiles(directory=pmtiles_js.parent), name="pmtiles")
    app.add_middleware(audit_trail.AuditTrail)  # inside the security middlewares
    security.install(app, settings)
    return app


def _mount_static(app: FastAPI, settings: Settings) -> None:
    """Leaflet, h3-js, Swagger UI and markercluster, served from this machine (no CDN)."""
    app.mount(assets.ROUTE, StaticFiles(directory=assets.leaflet_dir()), name="leaflet")
    h3js = assets.h3js_file()
    if h3js is not None:
        app.mount(assets.H3JS_ROUTE, StaticFiles(directory=h3js.parent), name="h3js")
    swagger = docs.swagger_files()
    if swagger is not None and not settings.production:
        app.mount(docs.ROUTE, swagger, name="swagger-ui")
    cluster = assets.markercluster_dir()
    if cluster is not None:
        app.mount(assets.CLUSTER_ROUTE, StaticFiles(directory=cluster), name="markercluster")
