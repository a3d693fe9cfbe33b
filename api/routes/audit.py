"""The audit trail over HTTP, for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.schemas import Day
from layers.store import audit

router = APIRouter(tags=["audit"])


@router.get("/api/audit")
def audit_rows(
    request: Request,
    user: Annotated[str | None, Query(max_length=64, description="Only this user.")] = None,
    since: Annotated[Day | None, Query(description="Only rows from this day (UTC).")]
    = None,
    object_id: Annotated[str | None, Query(alias="object", max_length=64,
                                           description="Only rows naming this id.")] = None,
    action: Annotated[str | None, Query(max_length=32,
                                        description="Only this action.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many rows.")]
    = 200,
) -> dict[str, Any]:
    """The audit trail, newest first: who read, exported, changed or was refused what."""
    with request.app.state.store.connect() as conn:
        rows = audit.query(conn, user=user, since=since, object_id=object_id, action=action,
                           limit=limit)
    data = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in rows.to_dict(orient="records")]
    return {"data": data, "count": len(data)}
