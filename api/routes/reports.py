"""Concern reports: record one (analysts), through `layers.records.edits_store`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api import auth
from api.schemas import ReportCreate, ReportWritten
from layers.records import edits_store as edits

router = APIRouter(prefix="/api/reports", tags=["reports"])


@router.post("", response_model=ReportWritten, status_code=201)
def create_report(request: Request, body: ReportCreate, session: auth.CurrentSession
                  ) -> ReportWritten:
    """Record a concern report at a place, a point or a postcode: version 1."""
    actor = edits.Actor(session.user.name, session.user.role, auth.client_address(request))
    made = edits.create_report(request.app.state.store, body.model_dump(exclude_unset=True),
                               actor=actor, scope=session.user.authorities)
    return ReportWritten.model_validate(made)
