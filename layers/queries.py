"""Read-only queries over the store for the API and the map.

Every function takes an open ``sqlalchemy.Connection``, runs plain SQLAlchemy Core selects
and writes nothing. List queries return a `Page`: one page of rows as a frame plus the
total number of rows matching the filters, for ``{data, count}`` pagination. Free-text
intelligence (a place's ``notes``) is left out unless asked for by name.
"""

from __future__ import annotations

from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.crs import WGS84
from layers import schema
from layers.places import LEVELS

DEMO_VINTAGE = "demo"

PLACE_COLUMNS = (
    "id", "source_id", "name", "category", "address", "postcode", "lat", "lng", "h3_cell",
    "ward_code", "outside_areas", "mace_level", "exploitation_types", "source_agency",
    "assessed_on", "review_due", "status",
)
ACTIVITY_COLUMNS = (
    "id", "source_id", "activity_type", "started_at", "ended_at", "place_id", "postcode",
    "located_by", "lat", "lng", "h3_cell", "ward_code", "outside_areas", "agency", "outcome",
    "jag_ref",
)
AREA_COLUMNS = ("code", "name", "authority_code", "authority_name", "vintage")
CELL_COLUMNS = ("h3_cell", "score", "category", "label", "z_last", "trend_z", "ward_code",
                "as_of", "run_id")


class Page(NamedTuple):
    """One page of a list query and the number of rows matching its filters."""

    rows: pd.DataFrame
    total: int


def _page(conn: sa.Connection, stmt: sa.Select, order: list, columns: tuple[str, ...], *,
          limit: int | None, offset: int) -> Page:
    """Count ``stmt``'s rows, then fetch one ordered page of them."""
    count = conn.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    paged = stmt.order_by(*order).offset(offset)
    if limit is not None:
        paged = paged.limit(limit)
    rows = conn.execute(paged).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns), dtype=object)
    return Page(frame, int(count or 0))


def places(conn: sa.Connection, *, ward_code: str | None = None,
           mace_level: int | None = None, with_notes: bool = False,
           limit: int | None = None, offset: int = 0) -> Page:
    """Places of concern, ordered by id.

    Parameters
    ----------
    conn
        An open connection to the store.
    ward_code, mace_level
        Keep only places in this ward / at this MACE level.
    with_notes
        Add the free-text ``notes`` column. Leave it off for anything listed or shared.
    limit, offset
        The page; ``limit=None`` returns every row from ``offset``.

    Returns
    -------
    Page
        Columns `PLACE_COLUMNS` plus ``level_name`` (and ``notes`` if asked).
    """
    t = schema.places
    columns = (*PLACE_COLUMNS, "notes") if with_notes else PLACE_COLUMNS
    stmt = sa.select(*(t.c[c] for c in columns))
    if ward_code is not None:
        stmt = stmt.where(t.c.ward_code == ward_code)
    if mace_level is not None:
        stmt = stmt.where(t.c.mace_level == mace_level)
    page = _page(conn, stmt, [t.c.id], columns, limit=limit, offset=offset)
    page.rows["level_name"] = page.rows["mace_level"].map(LEVELS)
    return page


def activities(conn: sa.Connection, *, ward_code: str | None = None,
               activity_type: str | None = None, limit: int | None = None,
               offset: int = 0) -> Page:
    """Disruption activities, newest first.

    Parameters
    ----------
    conn
        An open connection to the store.
    ward_code, activity_type
        Keep only activities in this ward / of this type.
    limit, offset
        The page; ``limit=None`` returns every row from ``offset``.

    Returns
    -------
    Page
        Columns `ACTIVITY_COLUMNS`; ``place_id`` is the store id of the place, if any.
    """
    t = schema.activities
    stmt = sa.select(*(t.c[c] for c in ACTIVITY_COLUMNS))
    if ward_code is not None:
        stmt = stmt.where(t.c.ward_code == ward_code)
    if activity_type is not None:
        stmt = stmt.where(t.c.activity_type == activity_type)
    order = [t.c.started_at.desc(), t.c.id]
    return _page(conn, stmt, order, ACTIVITY_COLUMNS, limit=limit, offset=offset)


def cells(conn: sa.Connection, *, ward_code: str | None = None, limit: int | None = None,
          offset: int = 0, run_id: int | None = None) -> Page:
    """Cells of the newest scoring run (or ``run_id``), highest current score first.

    Parameters
    ----------
    conn
        An open connection to the store.
    ward_code
        Keep only cells whose centre lies in this ward.
    limit, offset
        The page; ``limit=None`` returns every row from ``offset``.
    run_id
        A stored run; default the newest.

    Returns
    -------
    Page
        Columns `CELL_COLUMNS`; empty when nothing has been scored yet.
    """
    c, r = schema.run_cells, schema.score_runs
    if run_id is None:
        run_id = conn.scalar(sa.select(r.c.id).order_by(r.c.id.desc()).limit(1))
    stmt = (sa.select(c.c.h3_cell, c.c.current.label("score"), c.c.category, c.c.label,
                      c.c.z_last, c.c.trend_z, c.c.ward_code, r.c.as_of, c.c.run_id)
            .join(r, r.c.id == c.c.run_id).where(c.c.run_id == run_id))
    if ward_code is not None:
        stmt = stmt.where(c.c.ward_code == ward_code)
    order = [c.c.current.desc(), c.c.h3_cell]
    return _page(conn, stmt, order, CELL_COLUMNS, limit=limit, offset=offset)


def areas(conn: sa.Connection, *, authority_code: str | None = None,
          limit: int | None = None, offset: int = 0, geometry: bool = True
          ) -> tuple[gpd.GeoDataFrame, int]:
    """Loaded areas (wards), ordered by authority and code.

    Parameters
    ----------
    conn
        An open connection to the store.
    authority_code
        Keep only the areas of this local authority.
    limit, offset
        The page; ``limit=None`` returns every row from ``offset``.
    geometry
        Decode the boundaries; without them the geometry column is empty (cheaper).

    Returns
    -------
    (geopandas.GeoDataFrame, int)
        Columns `AREA_COLUMNS` and ``geometry`` in EPSG:4326, and the total count.
    """
    t = schema.areas
    columns = (*AREA_COLUMNS, "geometry_wkb") if geometry else AREA_COLUMNS
    stmt = sa.select(*(t.c[c] for c in columns))
    if authority_code is not None:
        stmt = stmt.where(t.c.authority_code == authority_code)
    rows, count = _page(conn, stmt, [t.c.authority_code, t.c.code], columns, limit=limit,
                        offset=offset)
    geoms = np.full(len(rows), None, dtype=object)
    if geometry and len(rows):
        geoms = shapely.from_wkb(rows.pop("geometry_wkb").to_numpy())
    rows = rows.drop(columns="geometry_wkb", errors="ignore")
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=WGS84), count


def has_demo_areas(conn: sa.Connection) -> bool:
    """Tell whether any loaded area is of the approximate ``"demo"`` vintage."""
    t = schema.areas
    found = conn.scalar(sa.select(t.c.id).where(t.c.vintage == DEMO_VINTAGE).limit(1))
    return found is not None


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows of ``frame`` as dicts of plain Python values, missing values as ``None``.

    Examples
    --------
    >>> records(pd.DataFrame({"a": [1, None], "b": [np.float64(0.5), np.nan]}))
    [{'a': 1.0, 'b': 0.5}, {'a': None, 'b': None}]
    """
    values = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in values.to_dict("records")
    ]
