"""Why a cell or a ward scores what it does: by source and record, patrol records apart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api import auth
from api.deps import AsOf, Conn, H3Cell, RunId, Top
from api.schemas import (
    ExplanationPublic,
)
from layers.hotspots import read as hotspots_read

router = APIRouter(prefix="/api/explain", tags=["explain"])


@router.get("/cell/{h3_cell}", response_model=ExplanationPublic)
def explain_cell(conn: Conn, h3_cell: H3Cell, scope: auth.UserScope, as_of: AsOf = None,
                 top: Top = 10, run_id: RunId = None) -> ExplanationPublic:
    """Take a cell's current score apart by source and record, patrol records apart."""
    meta, explanation = hotspots_read.explain_cell(conn, h3_cell, run_id=run_id, as_of=as_of,
                                             top=top, scope=scope)
    return ExplanationPublic.model_validate({**explanation.as_dict(), **meta})


@router.get("/ward/{ward_code}", response_model=ExplanationPublic)
def explain_ward(
    conn: Conn, ward_code: Annotated[str, Path(max_length=16, description="A ward code.")],
    scope: auth.UserScope, as_of: AsOf = None, top: Top = 10, run_id: RunId = None,
) -> ExplanationPublic:
    """Take a ward's current score apart by source and record, patrol records apart."""
    meta, explanation = hotspots_read.explain_ward(conn, ward_code, run_id=run_id, as_of=as_of,
                                             top=top, scope=scope)
    return ExplanationPublic.model_validate({**explanation.as_dict(), **meta})
