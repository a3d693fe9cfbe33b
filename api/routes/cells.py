"""Scored H3 cells of a run: list, one cell, GeoJSON, categories and concentration."""

from __future__ import annotations

import geopandas as gpd
from fastapi import APIRouter
from fastapi.responses import Response

from api import auth
from api.deps import Conn, H3Cell, Page, RunId, WardCode
from api.responses import geojson_response
from api.schemas import (
    CategoriesPublic,
    CellDetail,
    CellsPublic,
    ConcentrationPublic,
)
from geo import h3index
from geo.crs import WGS84
from layers.hotspots import read as hotspots_read
from layers.store import paging

router = APIRouter(prefix="/api", tags=["cells"])


@router.get("/cells", response_model=CellsPublic)
def list_cells(conn: Conn, page: Page, scope: auth.UserScope,
               ward_code: WardCode = None) -> CellsPublic:
    """List stored H3 cell scores, highest first."""
    rows, count = hotspots_read.cells(conn, ward_code=ward_code, limit=page.limit,
                                offset=page.offset, scope=scope)
    return CellsPublic.model_validate({"data": paging.records(rows), "count": count})


@router.get("/cells.geojson", response_class=Response)
def cells_geojson(conn: Conn, page: Page, scope: auth.UserScope,
                  ward_code: WardCode = None) -> Response:
    """Stored cell scores as GeoJSON hexagons, highest first."""
    rows, count = hotspots_read.cells(conn, ward_code=ward_code, limit=page.limit,
                                offset=page.offset, scope=scope)
    ids = rows["h3_cell"].to_numpy(dtype=object)
    polygons = h3index.cells_to_polygons(h3index.str_to_cells(ids))
    return geojson_response(gpd.GeoDataFrame(rows, geometry=list(polygons), crs=WGS84), count)


@router.get("/cells/{h3_cell}", response_model=CellDetail)
def get_cell(conn: Conn, h3_cell: H3Cell, scope: auth.UserScope,
             run_id: RunId = None) -> CellDetail:
    """One cell of a run: category, score by source, trend and per-step Gi*."""
    return CellDetail.model_validate(hotspots_read.cell(conn, h3_cell, run_id=run_id, scope=scope))


@router.get("/categories", response_model=CategoriesPublic)
def list_categories(conn: Conn, scope: auth.UserScope, run_id: RunId = None
                    ) -> CategoriesPublic:
    """Count the cells of each emerging hot spot category in a run."""
    meta, rows = hotspots_read.categories(conn, run_id=run_id, scope=scope)
    return CategoriesPublic.model_validate(
        {**meta, "data": paging.records(rows), "count": len(rows)})


@router.get("/concentration", response_model=ConcentrationPublic)
def get_concentration(conn: Conn, scope: auth.UserScope,
                      run_id: RunId = None) -> ConcentrationPublic:
    """Per step of a run: total weight, share in the top 1% and 5% of cells, and Gini."""
    meta, rows = hotspots_read.concentration(conn, run_id=run_id, scope=scope)
    return ConcentrationPublic.model_validate(
        {**meta, "data": paging.records(rows), "count": len(rows)})
