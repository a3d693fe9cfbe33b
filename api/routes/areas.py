"""Loaded areas (wards) and the ward ranking of a run."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api import auth
from api.deps import Conn, Page, RunId
from api.responses import geojson_response
from api.schemas import (
    AreasPublic,
    Day,
    WardRanking,
)
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.store import paging

router = APIRouter(prefix="/api", tags=["areas"])


@router.get("/areas", response_model=AreasPublic)
def list_areas(
    conn: Conn, page: Page, scope: auth.UserScope,
    authority_code: Annotated[str | None, Query(max_length=16)] = None,
) -> AreasPublic:
    """List loaded areas (wards) without their boundaries."""
    rows, count = records_read.areas(conn, authority_code=authority_code, limit=page.limit,
                                offset=page.offset, geometry=False, scope=scope)
    data = paging.records(pd.DataFrame(rows.drop(columns="geometry")))
    return AreasPublic.model_validate({"data": data, "count": count})


@router.get("/areas.geojson", response_class=Response)
def areas_geojson(
    conn: Conn, scope: auth.UserScope,
    authority_code: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """All loaded areas (wards) as a GeoJSON FeatureCollection."""
    areas, count = records_read.areas(conn, authority_code=authority_code, scope=scope)
    return geojson_response(areas, count)


@router.get("/wards/ranking", response_model=WardRanking)
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
