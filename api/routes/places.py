"""Places of concern: list, one place, its notes (analysts), GeoJSON; record and change them.

The writes (analysts and admins) go through `layers.records.edits_store`, as the forms and
the CLI do: the import's checks and messages, only the fields given, the version an edit
was made from (409 if someone changed the place meanwhile), and every change kept.
"""

from __future__ import annotations

from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api import audit_trail, auth, policy
from api.deps import Conn, MaceLevel, Page, WardCode
from api.responses import geojson_response
from api.schemas import (
    LevelDecision,
    PlaceClose,
    PlaceCreate,
    PlaceDetail,
    PlaceHistory,
    PlaceNotes,
    PlacesPublic,
    PlaceUpdate,
    PlaceWritten,
)
from geo.crs import WGS84
from layers.records import edits_store as edits
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


PlaceId = Annotated[str, Path(max_length=64)]


def _actor(request: Request, session: auth.Session) -> edits.Actor:
    return edits.Actor(session.user.name, session.user.role, auth.client_address(request))


@router.post("/places", response_model=PlaceWritten, status_code=201)
def create_place(request: Request, body: PlaceCreate, session: auth.CurrentSession
                 ) -> PlaceWritten:
    """Record a new place with its first level (analysts): version 1."""
    made = edits.create_place(request.app.state.store, body.model_dump(exclude_unset=True),
                              actor=_actor(request, session), scope=session.user.authorities)
    return PlaceWritten(source_id=made["source_id"], version=made["version"])


@router.patch("/places/{place_id}", response_model=PlaceWritten)
def update_place(request: Request, place_id: PlaceId, body: PlaceUpdate,
                 session: auth.CurrentSession) -> PlaceWritten:
    """Change the fields given, from ``version``; 409 if the place changed meanwhile."""
    fields = body.model_dump(exclude_unset=True, exclude={"version", "reason"})
    out = edits.update_place(request.app.state.store, place_id, fields, version=body.version,
                             reason=body.reason, actor=_actor(request, session),
                             scope=session.user.authorities)
    return PlaceWritten.model_validate(out)


@router.post("/places/{place_id}/level", response_model=PlaceWritten)
def decide_level(request: Request, place_id: PlaceId, body: LevelDecision,
                 session: auth.CurrentSession) -> PlaceWritten:
    """Raise or lower the place's MACE level, with a reason and the decision's reference."""
    out = edits.decide_level(request.app.state.store, place_id, level=body.level,
                             reason=body.reason, version=body.version,
                             decided_on=body.decided_on, decision_ref=body.decision_ref,
                             actor=_actor(request, session), scope=session.user.authorities)
    return PlaceWritten(source_id=place_id, version=out["version"],
                        changed={"mace_level": {"before": out["from_level"],
                                                "after": out["to_level"]}})


@router.post("/places/{place_id}/close", response_model=PlaceWritten)
def close_place(request: Request, place_id: PlaceId, body: PlaceClose,
                session: auth.CurrentSession) -> PlaceWritten:
    """Close the place, with a reason; its history is kept."""
    out = edits.close_place(request.app.state.store, place_id, reason=body.reason,
                            version=body.version, actor=_actor(request, session),
                            scope=session.user.authorities)
    return PlaceWritten(source_id=place_id, version=out["version"],
                        changed={"status": {"after": out["status"]}})


@router.get("/places/{place_id}/history", response_model=PlaceHistory)
def place_history(conn: Conn, place_id: PlaceId, response: Response,
                  scope: auth.UserScope) -> PlaceHistory:
    """Every version of the place: who, when, why, before and after (analysts; audited)."""
    response.headers["Cache-Control"] = "no-store"
    data = edits.history(conn, place_id, scope=scope)
    return PlaceHistory.model_validate({"source_id": place_id, "data": data,
                                        "count": len(data)})
