"""Stored scoring runs and their parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import MAX_OFFSET, Conn, Page
from api.schemas import (
    RunDetail,
    RunsPublic,
)
from layers.hotspots import read as hotspots_read
from layers.store import paging

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get("", response_model=RunsPublic)
def list_runs(conn: Conn, page: Page) -> RunsPublic:
    """List stored scoring runs, newest first, with their parameters."""
    rows, count = hotspots_read.runs(conn, limit=page.limit, offset=page.offset)
    return RunsPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/{run_id}", response_model=RunDetail)
def get_run(conn: Conn, run_id: Annotated[int, Path(ge=1, le=MAX_OFFSET)]) -> RunDetail:
    """One scoring run: its parameters and the start date of each step."""
    return RunDetail.model_validate(hotspots_read.run(conn, run_id))
