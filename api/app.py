"""The placerisk web app: the map at ``/``, JSON and GeoJSON under ``/api``.

``create_app(settings)`` opens the store once and keeps it on ``app.state``; every request
reads through its own connection. The CLI serves it with uvicorn and writes the same map to a
file with `render_map_html`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, cast

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from api import audit_trail, auth, docs, pages, policy, security
from api.page_cache import PageCache
from api.results import DEFAULT_RETRY_S, Busy
from api.routes import (
    audit as routes_audit,
)
from api.routes import (
    briefing as routes_briefing,
)
from api.routes import (
    guardian as routes_guardian,
)
from api.routes import (
    outcomes as routes_outcomes,
)
from api.routes import (
    patrol as routes_patrol,
)
from api.routes import (
    plans as routes_plans,
)
from api.routes import (
    review as routes_review,
)
from api.routes import (
    wards as routes_wards,
)
from api.schemas import (
    ActivitiesPublic,
    AreasPublic,
    CategoriesPublic,
    CellDetail,
    CellsPublic,
    ConcentrationPublic,
    Day,
    ExplanationPublic,
    Health,
    PlaceDetail,
    PlaceNotes,
    PlacesPublic,
    RunDetail,
    RunsPublic,
    WardRanking,
)
from api.services import outcomes as outcome_service
from api.services.map import render_map
from api.settings import Settings
from geo import h3index
from geo.crs import WGS84
from layers import errors
from layers.access.disclosure import check_k
from layers.access.review_store import ReviewStateError
from layers.dates import out_of_range
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.records.filters import FilterError, MapFilter
from layers.records.places import CATEGORIES, EXPLOITATION_TYPES
from layers.store import paging
from layers.store.engine import Store, StoreError, open_store
from maps import assets

DEFAULT_LIMIT = 100
MAX_OFFSET = 2**31 - 1
GEOJSON = "application/geo+json"

# Domain errors that reach a route, and the HTTP status each becomes.
ERROR_STATUS: dict[type[Exception], int] = {
    StoreError: 503, errors.NotFoundError: 404, errors.ParameterError: 422,
    FilterError: 422, ReviewStateError: 409,
}


# --- dependencies ------------------------------------------------------------------------

def get_store(request: Request) -> Store:
    """The store opened by `create_app`."""
    return request.app.state.store


def get_conn(store: Annotated[Store, Depends(get_store)]) -> Iterator[sa.Connection]:
    """A read connection for the duration of one request."""
    with store.connect() as conn:
        yield conn


@dataclass(frozen=True)
class Paging:
    """The requested page, with ``limit`` already capped."""

    limit: int
    offset: int


def get_paging(
    request: Request,
    limit: Annotated[int, Query(ge=1, description="Rows per page (capped at the maximum).")]
    = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
) -> Paging:
    """Read ``limit`` and ``offset``, capping ``limit`` at ``page_size_max``."""
    settings: Settings = request.app.state.settings
    return Paging(min(limit, settings.page_size_max), offset)


# Closed when the route returns, before the answer (and its audit row, `api.audit_trail`)
# is sent: the row's write never waits for a pool connection this request still holds.
Conn = Annotated[sa.Connection, Depends(get_conn, scope="function")]
Page = Annotated[Paging, Depends(get_paging)]
WardCode = Annotated[str | None, Query(max_length=16, description="Only this ward.")]
MaceLevel = Annotated[int | None, Query(ge=1, le=4, description="Only this MACE level.")]
RunId = Annotated[int | None, Query(ge=1, le=MAX_OFFSET,
                                    description="A stored scoring run; default the newest.")]
H3Cell = Annotated[str, Path(min_length=1, max_length=16, description="An H3 cell id.")]
AsOf = Annotated[Day | None, Query(
    description="Explain the score at this date (default: the run's as-of date), with the "
                "records the run knew of.")]
Top = Annotated[int, Query(ge=1, le=100, description="How many records to list.")]

router = APIRouter()


# --- routes ------------------------------------------------------------------------------

@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: answer at once rather than 404 (browsers always ask)."""
    return Response(status_code=204)


@router.get("/api/search", tags=["map"])
def search(conn: Conn, scope: auth.UserScope,
           q: Annotated[str, Query(min_length=2, max_length=40,
                                   description="Start of a postcode.")]
           ) -> dict[str, list[dict]]:
    """Find loaded postcodes by their start, for the map's search box."""
    return {"data": records_read.search_postcodes(conn, q, scope=scope)}


def _day(name: str, value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        msg = f"{name}: {value!r} is not a date; use YYYY-MM-DD"
        raise FilterError(msg) from None
    wrong = out_of_range(day, name)
    if wrong:
        raise FilterError(wrong)
    return day


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
    return MapFilter(date_from=_day("from", date_from), date_to=_day("to", date_to),
                     exploitation_type=exploitation_type or None,
                     place_category=category or None, authority_code=authority or None)


@router.get("/", response_class=HTMLResponse, tags=["map"])
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


@router.get("/api/places", response_model=PlacesPublic, tags=["places"])
def list_places(request: Request, conn: Conn, page: Page, scope: auth.UserScope,
                ward_code: WardCode = None, mace_level: MaceLevel = None) -> PlacesPublic:
    """List places of concern (without notes)."""
    rows, count = records_read.places(conn, ward_code=ward_code, mace_level=mace_level,
                                 limit=page.limit, offset=page.offset, scope=scope)
    audit_trail.returned(request, {"places": len(rows)}, matched=count)
    return PlacesPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/api/places/{place_id}", response_model=PlaceDetail, tags=["places"])
def get_place(conn: Conn, place_id: Annotated[str, Path(max_length=64)],
              session: auth.CurrentSession) -> PlaceDetail:
    """One place with its level history and latest activities (no notes)."""
    detail = records_read.place_detail(conn, place_id, scope=session.user.authorities)
    if not policy.reads_free_text(session.user.role):  # reasons, outcomes: like notes
        detail["levels"] = [{**level, "reason": None} for level in detail["levels"]]
        detail["activities"] = [{**a, "outcome": None} for a in detail["activities"]]
    return PlaceDetail.model_validate(detail)


@router.get("/api/places/{place_id}/notes", response_model=PlaceNotes, tags=["places"])
def get_place_notes(conn: Conn, place_id: Annotated[str, Path(max_length=64)],
                    response: Response, scope: auth.UserScope) -> PlaceNotes:
    """A place's notes and graded reports (analysts only; every read is audited)."""
    response.headers["Cache-Control"] = "no-store"
    return PlaceNotes.model_validate(records_read.place_notes(conn, place_id, scope=scope))


@router.get("/api/activities", response_model=ActivitiesPublic, tags=["activities"])
def list_activities(
    request: Request, conn: Conn, page: Page, session: auth.CurrentSession,
    scope: auth.UserScope, ward_code: WardCode = None,
    activity_type: Annotated[str | None, Query(max_length=32)] = None,
    h3_cell: Annotated[str | None, Query(max_length=16, description="Only this H3 cell.")]
    = None,
) -> ActivitiesPublic:
    """List disruption activities, newest first."""
    rows, count = records_read.activities(conn, ward_code=ward_code, activity_type=activity_type,
                                     h3_cell=h3_cell, limit=page.limit, offset=page.offset,
                                     scope=scope)
    if not policy.reads_free_text(session.user.role):  # an outcome is free text
        rows = rows.assign(outcome=None)
    audit_trail.returned(request, {"activities": len(rows)}, matched=count)
    return ActivitiesPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/api/cells", response_model=CellsPublic, tags=["cells"])
def list_cells(conn: Conn, page: Page, scope: auth.UserScope,
               ward_code: WardCode = None) -> CellsPublic:
    """List stored H3 cell scores, highest first."""
    rows, count = hotspots_read.cells(conn, ward_code=ward_code, limit=page.limit,
                                offset=page.offset, scope=scope)
    return CellsPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/api/areas", response_model=AreasPublic, tags=["areas"])
def list_areas(
    conn: Conn, page: Page, scope: auth.UserScope,
    authority_code: Annotated[str | None, Query(max_length=16)] = None,
) -> AreasPublic:
    """List loaded areas (wards) without their boundaries."""
    rows, count = records_read.areas(conn, authority_code=authority_code, limit=page.limit,
                                offset=page.offset, geometry=False, scope=scope)
    data = paging.records(pd.DataFrame(rows.drop(columns="geometry")))
    return AreasPublic.model_validate({"data": data, "count": count})


@router.get("/api/areas.geojson", tags=["areas"], response_class=Response)
def areas_geojson(
    conn: Conn, scope: auth.UserScope,
    authority_code: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """All loaded areas (wards) as a GeoJSON FeatureCollection."""
    areas, count = records_read.areas(conn, authority_code=authority_code, scope=scope)
    return _geojson(areas, count)


@router.get("/api/cells.geojson", tags=["cells"], response_class=Response)
def cells_geojson(conn: Conn, page: Page, scope: auth.UserScope,
                  ward_code: WardCode = None) -> Response:
    """Stored cell scores as GeoJSON hexagons, highest first."""
    rows, count = hotspots_read.cells(conn, ward_code=ward_code, limit=page.limit,
                                offset=page.offset, scope=scope)
    ids = rows["h3_cell"].to_numpy(dtype=object)
    polygons = h3index.cells_to_polygons(h3index.str_to_cells(ids))
    return _geojson(gpd.GeoDataFrame(rows, geometry=list(polygons), crs=WGS84), count)


@router.get("/api/places.geojson", tags=["places"], response_class=Response)
def places_geojson(request: Request, conn: Conn, page: Page, scope: auth.UserScope,
                   ward_code: WardCode = None, mace_level: MaceLevel = None) -> Response:
    """Places of concern (without notes) as GeoJSON points; unlocated ones have no geometry."""
    rows, count = records_read.places(conn, ward_code=ward_code, mace_level=mace_level,
                                 limit=page.limit, offset=page.offset, scope=scope)
    audit_trail.returned(request, {"places": len(rows)}, matched=count)
    located = rows["lat"].notna() & rows["lng"].notna()
    points = gpd.points_from_xy(rows["lng"].where(located).astype(float),
                                rows["lat"].where(located).astype(float))
    geoms = [p if ok else None for p, ok in zip(points, located, strict=True)]
    return _geojson(gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84), count)


@router.get("/api/runs", response_model=RunsPublic, tags=["runs"])
def list_runs(conn: Conn, page: Page) -> RunsPublic:
    """List stored scoring runs, newest first, with their parameters."""
    rows, count = hotspots_read.runs(conn, limit=page.limit, offset=page.offset)
    return RunsPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/api/runs/{run_id}", response_model=RunDetail, tags=["runs"])
def get_run(conn: Conn, run_id: Annotated[int, Path(ge=1, le=MAX_OFFSET)]) -> RunDetail:
    """One scoring run: its parameters and the start date of each step."""
    return RunDetail.model_validate(hotspots_read.run(conn, run_id))


@router.get("/api/cells/{h3_cell}", response_model=CellDetail, tags=["cells"])
def get_cell(conn: Conn, h3_cell: H3Cell, scope: auth.UserScope,
             run_id: RunId = None) -> CellDetail:
    """One cell of a run: category, score by source, trend and per-step Gi*."""
    return CellDetail.model_validate(hotspots_read.cell(conn, h3_cell, run_id=run_id, scope=scope))


@router.get("/api/categories", response_model=CategoriesPublic, tags=["cells"])
def list_categories(conn: Conn, scope: auth.UserScope, run_id: RunId = None
                    ) -> CategoriesPublic:
    """Count the cells of each emerging hot spot category in a run."""
    meta, rows = hotspots_read.categories(conn, run_id=run_id, scope=scope)
    return CategoriesPublic.model_validate(
        {**meta, "data": paging.records(rows), "count": len(rows)})


@router.get("/api/wards/ranking", response_model=WardRanking, tags=["areas"])
def ward_ranking(
    conn: Conn, scope: auth.UserScope, run_id: RunId = None,
    since: Annotated[Day | None, Query(
        description="Report each ward's change of score since this date (YYYY-MM-DD), "
                    "which must lie within the run's steps.")] = None,
) -> WardRanking:
    """Rank the wards of a run by current score, with trend and change since a date."""
    meta, rows = hotspots_read.ward_ranking(conn, run_id=run_id, since=since, scope=scope)
    data = [{**row, "trend": {"z": row["trend_z"], "p": row["trend_p"],
                              "slope": row["trend_slope"], "direction": row["direction"]}}
            for row in paging.records(rows)]
    return WardRanking.model_validate({**meta, "data": data, "count": len(data)})


@router.get("/api/concentration", response_model=ConcentrationPublic, tags=["cells"])
def get_concentration(conn: Conn, scope: auth.UserScope,
                      run_id: RunId = None) -> ConcentrationPublic:
    """Per step of a run: total weight, share in the top 1% and 5% of cells, and Gini."""
    meta, rows = hotspots_read.concentration(conn, run_id=run_id, scope=scope)
    return ConcentrationPublic.model_validate(
        {**meta, "data": paging.records(rows), "count": len(rows)})


@router.get("/api/explain/cell/{h3_cell}", response_model=ExplanationPublic, tags=["explain"])
def explain_cell(conn: Conn, h3_cell: H3Cell, scope: auth.UserScope, as_of: AsOf = None,
                 top: Top = 10, run_id: RunId = None) -> ExplanationPublic:
    """Take a cell's current score apart by source and record, patrol records apart."""
    meta, explanation = hotspots_read.explain_cell(conn, h3_cell, run_id=run_id, as_of=as_of,
                                             top=top, scope=scope)
    return ExplanationPublic.model_validate({**explanation.as_dict(), **meta})


@router.get("/api/explain/ward/{ward_code}", response_model=ExplanationPublic,
            tags=["explain"])
def explain_ward(
    conn: Conn, ward_code: Annotated[str, Path(max_length=16, description="A ward code.")],
    scope: auth.UserScope, as_of: AsOf = None, top: Top = 10, run_id: RunId = None,
) -> ExplanationPublic:
    """Take a ward's current score apart by source and record, patrol records apart."""
    meta, explanation = hotspots_read.explain_ward(conn, ward_code, run_id=run_id, as_of=as_of,
                                             top=top, scope=scope)
    return ExplanationPublic.model_validate({**explanation.as_dict(), **meta})


@router.get("/healthz", response_model=Health, tags=["service"])
def healthz(conn: Conn, store: Annotated[Store, Depends(get_store)]) -> Health:
    """Report that the service is up and its store answers."""
    conn.execute(sa.select(1))
    return Health(status="ok", database=store.dialect)


# --- helpers -----------------------------------------------------------------------------

def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    msg = f"cannot write {type(value).__name__} {value!r} as JSON"
    raise TypeError(msg)


def _geojson(frame: gpd.GeoDataFrame, count: int) -> Response:
    """A FeatureCollection with OGC API Features' ``numberMatched``/``numberReturned``."""
    collection = frame.to_geo_dict(na="null", drop_id=True)
    collection["numberMatched"] = count
    collection["numberReturned"] = len(frame)
    return Response(json.dumps(collection, default=_json_default), media_type=GEOJSON)


def _error_handler(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    """JSON ``{"detail": message}``; an HTML page with a way forward for a page route."""
    async def handler(request: Request, exc: Exception) -> Response:
        if pages.is_page(request):
            return await run_in_threadpool(pages.error_page, request, status, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=status)
    return handler


async def _busy(request: Request, exc: Exception) -> Response:
    """503 with Retry-After: too many heavy computations at once (`api.results`)."""
    retry = str(exc.retry_after if isinstance(exc, Busy) else DEFAULT_RETRY_S)
    response = await _error_handler(503)(request, exc)
    response.headers["Retry-After"] = retry
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    """A 422 naming what is wrong where, never echoing the values sent; a page for a page.

    FastAPI's own answer repeats each bad ``input`` (a password sent as a number, say) and
    fails with a 500 on NaN or Infinity, which JSON cannot carry.
    """
    invalid = cast(RequestValidationError, exc)  # registered for this class only
    if pages.is_page(request):
        return await run_in_threadpool(pages.validation_page, request, invalid)
    return JSONResponse({"detail": validation_details(invalid.errors())}, status_code=422)


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each error's ``loc``, ``msg`` and ``type`` only.

    Examples
    --------
    >>> validation_details([{"type": "string_type", "loc": ("body", "password"),
    ...                      "msg": "Input should be a valid string", "input": float("nan")}])
    [{'loc': ['body', 'password'], 'msg': 'Input should be a valid string', 'type': 'string_type'}]
    """
    return [{"loc": [str(part) if not isinstance(part, int) else part
                     for part in error.get("loc", ())],
             "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
            for error in errors]


# --- app ---------------------------------------------------------------------------------

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
    from api.routes import tiles as routes_tiles  # and a base map no page could draw

    routes_tiles.check_tiles(settings)
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
    for error, status in ERROR_STATUS.items():
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Busy, _busy)
    for error, handler in auth.HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.include_router(auth.router)
    if not settings.production:
        app.include_router(docs.router)
    app.include_router(router)
    app.include_router(routes_wards.router)
    app.include_router(routes_patrol.router)
    app.include_router(routes_plans.router)
    app.include_router(routes_guardian.router)
    app.include_router(routes_outcomes.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_briefing.router)
    app.include_router(routes_review.router)
    from api.routes.exports import router as exports_router  # it imports this module

    app.include_router(exports_router)
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
    app.include_router(routes_tiles.router)
    pmtiles_js = assets.pmtiles_js()
    if pmtiles_js is not None:
        app.mount(assets.PMTILES_ROUTE, StaticFiles(directory=pmtiles_js.parent), name="pmtiles")
    app.add_middleware(audit_trail.AuditTrail)  # inside the security middlewares
    security.install(app, settings)
    return app
