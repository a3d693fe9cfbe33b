"""The service itself: health check and favicon."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import Conn, get_store
from api.schemas import (
    Health,
)
from layers.store.engine import Store

router = APIRouter(tags=["service"])


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: answer at once rather than 404 (browsers always ask)."""
    return Response(status_code=204)


@router.get("/healthz", response_model=Health)
def healthz(conn: Conn, store: Annotated[Store, Depends(get_store)]) -> Health:
    """Report that the service is up and its store answers."""
    conn.execute(sa.select(1))
    return Health(status="ok", database=store.dialect)
