"""Read what a scoring run needs from the store, as it was known at a given time.

"Known" means stored: a record counts only if its ``created_at`` is not after the cut-off,
whatever its event date, so a run for a past JAG meeting is reproduced exactly however many
late records arrived since. A place edited through placerisk after the cut-off (moved, say)
counts as it was then (`layers.records.edits_store.as_known_at`); its level is read from the
level history, which keeps when each decision was recorded. (Rows changed by a re-import
carry their new values: imports keep no versions yet. An erased place is left out
altogether, also when an earlier run is reproduced.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo import h3index
from layers.records.edits_store import as_known_at
from layers.store import schema
from layers.store.engine import resolution


@dataclass(frozen=True)
class ScoreInputs:
    """Records known at ``known_by``, each with its uint64 ``key`` cell."""

    reports: pd.DataFrame
    incidents: pd.DataFrame
    places: pd.DataFrame
    history: pd.DataFrame
    grid: np.ndarray
    resolution: int
    known_by: dt.datetime


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of ``day`` in UTC: the default "known by" time of an as-of date."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC) - dt.timedelta(
        microseconds=1)


def load_score_inputs(conn: sa.Connection, *, as_of: dt.date,
                known_by: dt.datetime | None = None, cells: np.ndarray | None = None,
                ward_code: str | None = None, wards: sa.Select[str] | None = None
                ) -> ScoreInputs:
    """Load the located reports, incidents, places and level history known by the cut-off.

    Parameters
    ----------
    conn
        An open connection to the store.
    as_of
        Records dated after this day are left out.
    known_by
        Records stored after this instant are left out; default the end of ``as_of``.
    cells, ward_code
        Load only the records in these ``uint64`` cells / this ward, for explaining one cell
        or ward (`layers.hotspots.explain`). ``grid`` then holds only the cells of the records
        loaded, not the study area, so filtered inputs are no input for Gi*.
    wards
        Load only the records whose ward is one of these codes (a select of them, such as
        `layers.store.scope.ward_select`), with ``cells`` or ``ward_code``: what a reader of some
        authorities may be shown.
    """
    known_by = known_by or end_of_day(as_of)
    r, i, p, h = schema.reports, schema.incidents, schema.places, schema.place_levels
    only = _only(cells, ward_code, wards)
    filtered = cells is not None or ward_code is not None or wards is not None
    reports = _read(conn, sa.select(r.c.source_id, r.c.h3_cell, r.c.ward_code, r.c.reported_on,
                                    r.c.mace_level, r.c.patrol_discovered)
                    .where(r.c.h3_cell.is_not(None), r.c.created_at <= known_by,
                           r.c.reported_on <= as_of, *only(r)))
    incidents = _read(conn, sa.select(i.c.incident_key, i.c.h3_cell, i.c.ward_code, i.c.month,
                                      i.c.crime_type)
                      .where(i.c.h3_cell.is_not(None), i.c.created_at <= known_by,
                             i.c.month <= as_of.strftime("%Y-%m"), *only(i)))
    live = p.c.erased_at.is_(None)  # an erased place is gone, from past runs' inputs too
    place_filter = (p.c.h3_cell.is_not(None), p.c.created_at <= known_by, live, *only(p))
    places = as_known_at(conn, p, _read(conn, sa.select(p.c.id, p.c.source_id, p.c.h3_cell,
                                                          p.c.ward_code).where(*place_filter)),
                         known_by)  # a place moved since: where it was then
    of_places = [h.c.place_id.in_(sa.select(p.c.id).where(*place_filter) if filtered
                                  else sa.select(p.c.id).where(live))]
    history = _read(conn, sa.select(h.c.place_id, h.c.changed_on, h.c.to_level)
                    .where(h.c.recorded_at <= known_by, h.c.changed_on <= as_of, *of_places))
    for frame in (reports, incidents, places):
        frame["key"] = h3index.str_to_cells(frame["h3_cell"].to_numpy())
    res = resolution(conn)
    data_cells = np.concatenate([f["key"].to_numpy(np.uint64)
                                 for f in (reports, incidents, places)])
    area = study_grid(conn, resolution=res) if not filtered else np.array([], np.uint64)
    grid = np.union1d(area, data_cells).astype(np.uint64)
    return ScoreInputs(reports, incidents, places, history, grid, res, known_by)


def _only(cells: np.ndarray | None, ward_code: str | None, wards: sa.Select[str] | None
          ) -> Callable[[sa.Table], list[sa.ColumnElement[bool]]]:
    """The extra conditions of `load_score_inputs`'s filters, for one record table."""
    names = None if cells is None else [str(c) for c in h3index.cells_to_str(
        np.asarray(cells, dtype=np.uint64))]

    def conditions(table: sa.Table) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if names is not None:
            out.append(table.c.h3_cell.in_(names))
        if ward_code is not None:
            out.append(table.c.ward_code == ward_code)
        if wards is not None:
            out.append(table.c.ward_code.in_(wards))
        return out
    return conditions


def stored_after(conn: sa.Connection, known_by: dt.datetime, *, as_of: dt.date) -> int:
    """How many records dated up to ``as_of`` (and places) were stored after ``known_by``."""
    r, i, p = schema.reports, schema.incidents, schema.places
    late = 0
    for table, when in ((r, r.c.reported_on <= as_of),
                        (i, i.c.month <= as_of.strftime("%Y-%m")),
                        (p, p.c.erased_at.is_(None))):
        late += conn.scalar(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.created_at > known_by, when)) or 0
    return int(late)


def _read(conn: sa.Connection, query: sa.Select[*tuple[Any, ...]]) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def study_grid(conn: sa.Connection, *, resolution: int,
               authorities: frozenset[str] | None = None) -> np.ndarray:
    """Every cell touching a loaded area: the study area, where empty cells count as zero.

    ``authorities``: only the areas of these authority codes (`layers.store.scope`).
    """
    a = schema.areas
    query = sa.select(a.c.geometry_wkb)
    if authorities is not None:
        query = query.where(a.c.authority_code.in_(sorted(authorities)))
    wkb = conn.scalars(query).all()
    if not wkb:
        return np.array([], dtype=np.uint64)
    union = shapely.union_all(shapely.from_wkb(np.asarray(wkb, dtype=object)))
    return h3index.polygon_to_cells(union, resolution=resolution, contain="overlap")
