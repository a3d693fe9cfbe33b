"""Places of concern: list, one place, its notes (analysts), GeoJSON."""

from __future__ import annotations

from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api import audit_trail, auth, policy
from api.deps import Conn, MaceLevel, Page, WardCode
from api.responses import geojson_response
from api.schemas import (
    PlaceDetail,
    PlaceNotes,
    PlacesPublic,
)
from geo.crs import WGS84
from layers.records import read as records_read
from layers.store import paging

router = APIRouter(prefix="/api", tags=["places"])


@router.get("/places", response_model=PlacesPublic)
def list_places(request: Request, conn: Conn, page: Page, scope: auth.UserScope,
                ward_code: WardCode = None, mace_level: MaceLevel = None) -> PlacesPublic:
    """List places of concern (without notes)."""
    rows, count = records_read.places(conn, ward_code=ward_code, mace_level=mace_level,
                                 limit=page.limit, offset=page.offset, scope=scope)
    audit_trail.returned(request, {"places": len(rows)}, matched=count)
    return PlacesPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/places/{place_id}", response_model=PlaceDetail)
def get_place(conn: Conn, place_id: Annotated[str, Path(max_length=64)],
              session: auth.CurrentSession) -> PlaceDetail:
    """One place with its level history and latest activities (no notes)."""
    detail = records_read.place_detail(conn, place_id, scope=session.user.authorities)
    if not policy.reads_free_text(session.user.role):  # reasons, outcomes: like notes
        detail["levels"] = [{**level, "reason": None} for level in detail["levels"]]
        detail["activities"] = [{**a, "outcome": None} for a in detail["activities"]]
    return PlaceDetail.model_validate(detail)


@router.get("/places/{place_id}/notes", response_model=PlaceNotes)
def get_place_notes(conn: Conn, place_id: Annotated[str, Path(max_length=64)],
                    response: Response, scope: auth.UserScope) -> PlaceNotes:
    """A place's notes and graded reports (analysts only; every read is audited)."""
    response.headers["Cache-Control"] = "no-store"
    return PlaceNotes.model_validate(records_read.place_notes(conn, place_id, scope=scope))


@router.get("/places.geojson", response_class=Response)
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
    return geojson_response(gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84), count)
