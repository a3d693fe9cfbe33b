"""Read places, reports, activities, areas, incidents and postcodes for the API and the map.

Every function takes an open ``sqlalchemy.Connection``, runs plain SQLAlchemy Core selects
and writes nothing. List queries return a `layers.store.paging.Page`. Free-text intelligence
(a place's ``notes``) is left out unless asked for by name (`place_notes`). Erased places
(`layers.access.review_store.erase`) are left out of every query, as if they were gone.

Every query takes ``scope``, the authorities the reader may see (`layers.store.scope`;
``None``, the default, for all): what lies outside is left out, and a single record outside
it is a `layers.errors.NotFoundError` like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.crs import WGS84
from layers.errors import NotFoundError, ParameterError
from layers.records.filters import MapFilter
from layers.records.places import LEVELS
from layers.store import schema
from layers.store import scope as scopes
from layers.store.paging import Page, page_of
from layers.store.scope import Scope

DEMO_VINTAGE = "demo"


DEMO_ID_PREFIX = "DEMO-"  # the ids of the records layers.records.demo makes


PLACE_COLUMNS = (
    "id", "source_id", "name", "category", "address", "postcode", "lat", "lng", "h3_cell",
    "ward_code", "outside_areas", "mace_level", "exploitation_types", "source_agency",
    "assessed_on", "review_due", "status", "version",
)


ACTIVITY_COLUMNS = (
    "id", "source_id", "activity_type", "started_at", "ended_at", "place_id", "postcode",
    "located_by", "lat", "lng", "h3_cell", "ward_code", "outside_areas", "agency", "outcome",
    "jag_ref",
)


AREA_COLUMNS = ("code", "name", "authority_code", "authority_name", "vintage")


REPORT_CELL_COLUMNS = ("h3_cell", "independent", "patrol")


def places(conn: sa.Connection, *, ward_code: str | None = None,
           mace_level: int | None = None, with_notes: bool = False,
           limit: int | None = None, offset: int = 0, scope: Scope = None) -> Page:
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
    scope
        Only places in these authorities (`layers.store.scope`); ``None`` for all.

    Returns
    -------
    Page
        Columns `PLACE_COLUMNS` plus ``level_name`` (and ``notes`` if asked).
    """
    t = schema.places
    columns = (*PLACE_COLUMNS, "notes") if with_notes else PLACE_COLUMNS
    stmt = sa.select(*(t.c[c] for c in columns)).where(t.c.erased_at.is_(None),
                                                       *scopes.where(t.c.ward_code, scope))
    if ward_code is not None:
        stmt = stmt.where(t.c.ward_code == ward_code)
    if mace_level is not None:
        stmt = stmt.where(t.c.mace_level == mace_level)
    page = page_of(conn, stmt, [t.c.id], columns, limit=limit, offset=offset)
    page.rows["level_name"] = page.rows["mace_level"].map(LEVELS)
    return page


def activities(conn: sa.Connection, *, ward_code: str | None = None,
               activity_type: str | None = None, h3_cell: str | None = None,
               limit: int | None = None, offset: int = 0, scope: Scope = None) -> Page:
    """Disruption activities, newest first.

    Parameters
    ----------
    conn
        An open connection to the store.
    ward_code, activity_type, h3_cell
        Keep only activities in this ward / of this type / in this H3 cell.
    limit, offset
        The page; ``limit=None`` returns every row from ``offset``.
    scope
        Only activities in these authorities (`layers.store.scope`); ``None`` for all.

    Returns
    -------
    Page
        Columns `ACTIVITY_COLUMNS`; ``place_id`` is the store id of the place, if any.
    """
    t = schema.activities
    stmt = sa.select(*(t.c[c] for c in ACTIVITY_COLUMNS)).where(
        *scopes.where(t.c.ward_code, scope))
    if ward_code is not None:
        stmt = stmt.where(t.c.ward_code == ward_code)
    if activity_type is not None:
        stmt = stmt.where(t.c.activity_type == activity_type)
    if h3_cell is not None:
        stmt = stmt.where(t.c.h3_cell == h3_cell.lower())
    order = [t.c.started_at.desc(), t.c.id]
    return page_of(conn, stmt, order, ACTIVITY_COLUMNS, limit=limit, offset=offset)


def areas(conn: sa.Connection, *, authority_code: str | None = None,
          limit: int | None = None, offset: int = 0, geometry: bool = True,
          scope: Scope = None, code: str | None = None) -> tuple[gpd.GeoDataFrame, int]:
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
    code
        Only the area of this code (one ward: what a ward page or a patrol plan reads).
    scope
        Only the areas of these authorities (`layers.store.scope`); ``None`` for all.

    Returns
    -------
    (geopandas.GeoDataFrame, int)
        Columns `AREA_COLUMNS` and ``geometry`` in EPSG:4326, and the total count.
    """
    t = schema.areas
    columns = (*AREA_COLUMNS, "geometry_wkb") if geometry else AREA_COLUMNS
    stmt = sa.select(*(t.c[c] for c in columns)).where(
        *scopes.authority_where(t.c.authority_code, scope))
    if authority_code is not None:
        stmt = stmt.where(t.c.authority_code == authority_code)
    if code is not None:
        stmt = stmt.where(t.c.code == code)
    rows, count = page_of(conn, stmt, [t.c.authority_code, t.c.code], columns, limit=limit,
                        offset=offset)
    geoms = np.full(len(rows), None, dtype=object)
    if geometry and len(rows):
        geoms = shapely.from_wkb(rows.pop("geometry_wkb").to_numpy())
    rows = rows.drop(columns="geometry_wkb", errors="ignore")
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=WGS84), count


DEMO_AREAS_NOTICE = "Synthetic demo data - areas are approximate, not ONS wards"


DEMO_DATA_NOTICE = ("Synthetic demo data - invented places, reports and activities on real "
                    "ward boundaries")


def has_demo_areas(conn: sa.Connection) -> bool:
    """Tell whether any loaded area is of the approximate ``"demo"`` vintage."""
    t = schema.areas
    found = conn.scalar(sa.select(t.c.id).where(t.c.vintage == DEMO_VINTAGE).limit(1))
    return found is not None


def demo_notice(conn: sa.Connection) -> str | None:
    """The banner every view shows over demo data (``None`` for real data).

    Demo areas say they are approximate; demo records (``placerisk demo-data`` ids, which
    start ``DEMO-``) on real wards say they are invented.
    """
    if has_demo_areas(conn):
        return DEMO_AREAS_NOTICE
    p = schema.places
    demo = conn.scalar(sa.select(p.c.id).where(p.c.source_id.like(f"{DEMO_ID_PREFIX}%"))
                       .limit(1))
    return DEMO_DATA_NOTICE if demo is not None else None


INCIDENT_CELL_COLUMNS = ("h3_cell", "count", "top_types")


def incident_cells(conn: sa.Connection, *, months: int = 3, top: int = 3,
                   within: MapFilter | None = None,
                   wards: Mapping[str, str] | None = None, scope: Scope = None
                   ) -> pd.DataFrame:
    """police.uk crimes per H3 cell (the store's resolution) over the newest months held.

    The points of police.uk are anonymised snap points, so crime is only ever shown by
    area: this returns counts, never coordinates.

    Parameters
    ----------
    conn
        An open connection to the store.
    months
        How many of the newest months present in the data to count (at least 1).
    top
        How many crime types to list per cell.
    within, wards
        A map filter: its date range picks the months instead of ``months``, its authority
        the wards (``wards`` maps ward code to authority code).
    scope
        Only crimes in these authorities (`layers.store.scope`); ``None`` for all.

    Returns
    -------
    pandas.DataFrame
        Columns `INCIDENT_CELL_COLUMNS`, most crimes first: ``count`` is an int and
        ``top_types`` a list of ``(crime_type, count)``, commonest first. Incidents
        without a cell are left out; empty when there are none.
    """
    if months < 1:
        msg = f"months must be at least 1, got {months}"
        raise ParameterError(msg)
    t = schema.incidents
    stmt = sa.select(t.c.h3_cell, t.c.crime_type, sa.func.count().label("n")).where(
        t.c.h3_cell.is_not(None), *scopes.where(t.c.ward_code, scope))
    first, last = within.months() if within is not None else (None, None)
    if first is None and last is None:
        newest = sa.select(t.c.month).distinct().order_by(t.c.month.desc()).limit(months)
        stmt = stmt.where(t.c.month.in_(newest))
    if first is not None:
        stmt = stmt.where(t.c.month >= first)
    if last is not None:
        stmt = stmt.where(t.c.month <= last)
    if within is not None and within.authority_code is not None:
        stmt = stmt.where(t.c.ward_code.in_(_authority_wards(within, wards)))
    rows = conn.execute(stmt.group_by(t.c.h3_cell, t.c.crime_type)).all()
    if not rows:
        return pd.DataFrame(columns=list(INCIDENT_CELL_COLUMNS))
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["h3_cell", "crime_type", "n"])
    frame = frame.sort_values(["h3_cell", "n", "crime_type"], ascending=[True, False, True])
    out = frame.groupby("h3_cell", sort=False).agg(
        count=("n", "sum"),
        top_types=("crime_type", lambda s: list(s[:top])),
        top_counts=("n", lambda s: [int(n) for n in s[:top]]))
    out["top_types"] = [list(zip(k, n, strict=True))
                        for k, n in zip(out["top_types"], out.pop("top_counts"), strict=True)]
    out["count"] = out["count"].astype(int)
    out = out.reset_index().sort_values(["count", "h3_cell"], ascending=[False, True])
    return out[list(INCIDENT_CELL_COLUMNS)].reset_index(drop=True)


def incident_types(conn: sa.Connection) -> list[str]:
    """The police.uk crime types held, alphabetically."""
    t = schema.incidents
    return [r[0] for r in conn.execute(sa.select(t.c.crime_type).distinct()
                                       .order_by(t.c.crime_type))]


def _authority_wards(within: MapFilter, wards: Mapping[str, str] | None) -> list[str]:
    return sorted(w for w, a in (wards or {}).items() if a == within.authority_code)


def report_cells(conn: sa.Connection, within: MapFilter,
                 wards: Mapping[str, str] | None = None, *, scope: Scope = None
                 ) -> pd.DataFrame:
    """Concern reports per H3 cell that match a map filter, patrol-discovered ones apart.

    A report matches the exploitation type by its own type and the place category by the
    category of the place it names (a report naming no place cannot match a category).
    Only reports in ``scope`` count (`layers.store.scope`; ``None`` for all).

    Returns
    -------
    pandas.DataFrame
        Columns `REPORT_CELL_COLUMNS`, most independent reports first: ``independent`` and
        ``patrol`` (patrol-discovered, kept apart as the bias guardrail asks) as ints.
        Reports without a cell are left out.
    """
    r, p = schema.reports, schema.places
    stmt = (sa.select(r.c.h3_cell, r.c.patrol_discovered, sa.func.count().label("n"))
            .select_from(r.outerjoin(p, (r.c.place_id == p.c.id) & p.c.erased_at.is_(None)))
            .where(r.c.h3_cell.is_not(None), *scopes.where(r.c.ward_code, scope)))
    if within.date_from is not None:
        stmt = stmt.where(r.c.reported_on >= within.date_from)
    if within.date_to is not None:
        stmt = stmt.where(r.c.reported_on <= within.date_to)
    if within.exploitation_type is not None:
        stmt = stmt.where(r.c.exploitation_type == within.exploitation_type)
    if within.place_category is not None:
        stmt = stmt.where(p.c.category == within.place_category)
    if within.authority_code is not None:
        stmt = stmt.where(r.c.ward_code.in_(_authority_wards(within, wards)))
    rows = conn.execute(stmt.group_by(r.c.h3_cell, r.c.patrol_discovered)).all()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "h3_cell" else int)
                             for c in REPORT_CELL_COLUMNS})
    frame = pd.DataFrame([(c, bool(d), int(n)) for c, d, n in rows],
                         columns=["h3_cell", "patrol", "n"])
    out = (frame.pivot_table(index="h3_cell", columns="patrol", values="n", aggfunc="sum",
                             fill_value=0)
           .reindex(columns=[False, True], fill_value=0)
           .set_axis(["independent", "patrol"], axis=1).astype(int).reset_index())
    out = out.sort_values(["independent", "patrol", "h3_cell"],
                          ascending=[False, False, True], ignore_index=True)
    return out[list(REPORT_CELL_COLUMNS)]


def search_postcodes(conn: sa.Connection, query: str, *, limit: int = 8,
                     scope: Scope = None) -> list[dict[str, Any]]:
    """Loaded postcodes starting with ``query`` (spaces and case ignored), with their points.

    Examples of ``query``: ``"ts18"``, ``"TS18 1A"``. A restricted ``scope``
    (`layers.store.scope`) keeps the postcodes of its authorities (by the district or the ward
    the postcode file names).
    """
    key = "".join(query.split()).upper()
    if not key or len(key) > 8 or not key.isalnum():
        return []
    t = schema.postcodes
    compact = sa.func.replace(t.c.postcode, " ", "")
    stmt = sa.select(t.c.postcode, t.c.lat, t.c.lng).where(compact.like(f"{key}%"))
    if scope is not None:
        stmt = stmt.where(sa.or_(*scopes.authority_where(t.c.district_code, scope),
                                 *scopes.where(t.c.ons_ward_code, scope)))
    rows = conn.execute(stmt.order_by(t.c.postcode).limit(limit)).all()
    return [{"t": code, "k": "postcode", "c": [round(lat, 6), round(lng, 6)]}
            for code, lat, lng in rows]


def place_detail(conn: sa.Connection, source_id: str, *, activities_limit: int = 5,
                 scope: Scope = None) -> dict[str, Any]:
    """One place (never its notes), its level history and its latest activities.

    Raises
    ------
    NotFoundError
        When no place has this id, or none in ``scope`` (`layers.store.scope`).
    """
    t, lv, ac = schema.places, schema.place_levels, schema.activities
    row = conn.execute(sa.select(*(t.c[c] for c in PLACE_COLUMNS))
                       .where(t.c.source_id == source_id, t.c.erased_at.is_(None),
                              *scopes.where(t.c.ward_code, scope))
                       ).mappings().first()
    if row is None:
        msg = f"no place {source_id!r}"
        raise NotFoundError(msg)
    levels = conn.execute(sa.select(lv.c.changed_on, lv.c.from_level, lv.c.to_level,
                                    lv.c.reason, lv.c.decided_by, lv.c.decision_ref)
                          .where(lv.c.place_id == row["id"])
                          .order_by(lv.c.changed_on, lv.c.id)).mappings().all()
    acts = conn.execute(sa.select(ac.c.started_at, ac.c.activity_type, ac.c.agency,
                                  ac.c.outcome).where(ac.c.place_id == row["id"])
                        .order_by(ac.c.started_at.desc()).limit(activities_limit)
                        ).mappings().all()
    return {**row, "level_name": LEVELS[int(row["mace_level"])],
            "levels": [dict(r) for r in levels], "activities": [dict(a) for a in acts]}


REPORT_DETAIL_COLUMNS = ("source_id", "reported_on", "mace_level", "exploitation_type",
                         "source_agency", "patrol_discovered", "source_grade", "intel_grade",
                         "handling_code", "summary")


def place_notes(conn: sa.Connection, source_id: str, *, reports_limit: int = 50,
                scope: Scope = None) -> dict[str, Any]:
    """A place's free-text notes and its reports with their 3x5x2 grades and summaries.

    The most sensitive read of the store: analysts only, and audited by the caller.

    Raises
    ------
    NotFoundError
        When no place has this id, or none in ``scope`` (`layers.store.scope`).
    """
    t, r = schema.places, schema.reports
    row = conn.execute(sa.select(t.c.id, t.c.source_id, t.c.name, t.c.notes)
                       .where(t.c.source_id == source_id, t.c.erased_at.is_(None),
                              *scopes.where(t.c.ward_code, scope))
                       ).mappings().first()
    if row is None:
        msg = f"no place {source_id!r}"
        raise NotFoundError(msg)
    reports = conn.execute(sa.select(*(r.c[c] for c in REPORT_DETAIL_COLUMNS))
                           .where(r.c.place_id == row["id"])
                           .order_by(r.c.reported_on.desc(), r.c.id.desc())
                           .limit(reports_limit)).mappings().all()
    return {"source_id": row["source_id"], "name": row["name"], "notes": row["notes"],
            "reports": [dict(x) for x in reports]}
