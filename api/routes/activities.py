"""Disruption activities, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api import audit_trail, auth, policy
from api.deps import Conn, Page, WardCode
from api.schemas import (
    ActivitiesPublic,
)
from layers.records import read as records_read
from layers.store import paging

router = APIRouter(prefix="/api/activities", tags=["activities"])


@router.get("", response_model=ActivitiesPublic)
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
