"""Read-only queries over the store for the API and the map.

Every function takes an open ``sqlalchemy.Connection``, runs plain SQLAlchemy Core selects
and writes nothing. List queries return a `Page`: one page of rows as a frame plus the
total number of rows matching the filters, for ``{data, count}`` pagination. Free-text
intelligence (a place's ``notes``) is left out unless asked for by name. Erased places
(`layers.review.erase`) are left out of every query, as if they were gone.

The scoring-run queries (`runs`, `cell`, `categories`, `ward_ranking`, `concentration`,
`explain_cell`, `explain_ward`) read the newest run unless given a ``run_id``; they raise
`NotFoundError` for an unknown run, cell or ward and `ParameterError` for a bad argument.

Every query of records, cells, wards or their aggregates takes ``scope``, the authorities
the reader may see (`layers.scope`; ``None``, the default, for all): what lies outside is
left out, and a single record, cell or ward outside it is a `NotFoundError` like one that
does not exist. A scoring run's own parameters and sizes (`runs`, `run`) are shared.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from geo import h3index
from geo.crs import WGS84
from layers import schema
from layers import scope as scopes
from layers.concentration import concentration as concentration_of
from layers.coverage import covered_text
from layers.cube import PATROL, SOURCES, Steps, make_steps
from layers.emerging import CATEGORIES
from layers.explain import Explanation, explain, weights_from_dict
from layers.filters import MapFilter
from layers.hotspots import events_for
from layers.places import LEVELS
from layers.runs import read_run_wards, unpack
from layers.scope import Scope
from layers.score_inputs import load_inputs

DEMO_VINTAGE = "demo"
DEMO_ID_PREFIX = "DEMO-"  # the ids of the records layers.demo makes
NO_RUN = "no scoring run yet: run `placerisk score`"

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
REPORT_CELL_COLUMNS = ("h3_cell", "independent", "patrol")
CELL_COLUMNS = ("h3_cell", "score", "category", "label", "z_last", "trend_z", "ward_code",
                "as_of", "run_id")


class NotFoundError(LookupError):
    """A scoring run, cell or ward that the store does not hold."""


class ParameterError(ValueError):
    """An argument of a query that cannot be used, such as an invalid H3 cell id."""


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
        Only places in these authorities (`layers.scope`); ``None`` for all.

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
    page = _page(conn, stmt, [t.c.id], columns, limit=limit, offset=offset)
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
        Only activities in these authorities (`layers.scope`); ``None`` for all.

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
    return _page(conn, stmt, order, ACTIVITY_COLUMNS, limit=limit, offset=offset)


def cells(conn: sa.Connection, *, ward_code: str | None = None, limit: int | None = None,
          offset: int = 0, run_id: int | None = None, scope: Scope = None) -> Page:
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
    scope
        Only cells whose centre lies in a ward of these authorities (`layers.scope`).

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
            .join(r, r.c.id == c.c.run_id)
            .where(c.c.run_id == run_id, *scopes.where(c.c.ward_code, scope)))
    if ward_code is not None:
        stmt = stmt.where(c.c.ward_code == ward_code)
    order = [c.c.current.desc(), c.c.h3_cell]
    return _page(conn, stmt, order, CELL_COLUMNS, limit=limit, offset=offset)


def areas(conn: sa.Connection, *, authority_code: str | None = None,
          limit: int | None = None, offset: int = 0, geometry: bool = True,
          scope: Scope = None) -> tuple[gpd.GeoDataFrame, int]:
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
    scope
        Only the areas of these authorities (`layers.scope`); ``None`` for all.

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
    rows, count = _page(conn, stmt, [t.c.authority_code, t.c.code], columns, limit=limit,
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


# --- scoring runs ------------------------------------------------------------------------

RUN_COLUMNS = ("id", "as_of", "known_by", "created_at", "step", "n_steps", "k", "fingerprint",
               "resolution", "n_cells", "grid_size", "reused_steps", "duration_s")
TREND_DIRECTIONS = {1: "increasing", -1: "decreasing", 0: "no trend"}


def _run(conn: sa.Connection, run_id: int | None) -> dict[str, Any]:
    """One run's row with its parsed ``params``: ``run_id``, or else the newest."""
    r = schema.score_runs
    query = sa.select(r).order_by(r.c.id.desc()).limit(1)
    if run_id is not None:
        query = sa.select(r).where(r.c.id == run_id)
    row = conn.execute(query).mappings().one_or_none()
    if row is None:
        msg = NO_RUN if run_id is None else f"run {run_id} not found"
        raise NotFoundError(msg)
    out = dict(row)
    out["params"] = json.loads(out.pop("params_json"))
    out["coverage"] = json.loads(out.pop("coverage_json") or "null")  # null: an older run
    out["covered"] = covered(out)
    return out


def _run_steps(run: dict[str, Any]) -> Steps:
    """The time steps of a run, as the engine made them."""
    return make_steps(run["as_of"], kind=run["step"], count=run["n_steps"])


def _meta(run: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": run["id"], "as_of": run["as_of"], "covered": covered(run)}


def run_period(conn: sa.Connection, run_id: int | None = None) -> str | None:
    """`layers.coverage.covered_text` of a run (default the newest); ``None`` if no run."""
    try:
        run = _run(conn, run_id)
    except NotFoundError:
        return None
    return covered_text(run["covered"], step=run["step"])


def covered(run: dict[str, Any]) -> dict[str, Any] | None:
    """The period a run's data cover, as the API states it; ``None`` for an older run."""
    coverage = run.get("coverage")
    if not coverage:
        return None
    out = {"first": coverage["window"]["first"], "last": coverage["window"]["last"],
           "sources": coverage["sources"], "steps_asked": coverage["steps_asked"],
           "steps_scored": coverage["steps_scored"]}
    if coverage.get("missing_months"):
        out["missing_months"] = coverage["missing_months"]
    return out


def trend_direction(z: np.ndarray, p: np.ndarray, *, alpha: float) -> np.ndarray:
    """Name the Mann-Kendall trend: the sign of ``z`` where ``p < alpha``, else no trend.

    Examples
    --------
    >>> trend_direction(np.array([2.5, -2.5, 2.5]), np.array([0.01, 0.01, 0.2]), alpha=0.05)
    array(['increasing', 'decreasing', 'no trend'], dtype=object)
    """
    sign = np.where(np.asarray(p) < alpha, np.sign(z), 0).astype(int)
    return np.array([TREND_DIRECTIONS[int(s)] for s in sign], dtype=object)


def runs(conn: sa.Connection, *, limit: int | None = None, offset: int = 0) -> Page:
    """Stored scoring runs, newest first, with their parameters (``params``, parsed)."""
    r = schema.score_runs
    columns = (*RUN_COLUMNS, "params_json", "coverage_json")
    page = _page(conn, sa.select(*(r.c[c] for c in columns)), [r.c.id.desc()], columns,
                 limit=limit, offset=offset)
    page.rows["params"] = [json.loads(text) for text in page.rows.pop("params_json")]
    page.rows["covered"] = [covered({"coverage": json.loads(text or "null")})
                            for text in page.rows.pop("coverage_json")]
    return page


def run(conn: sa.Connection, run_id: int) -> dict[str, Any]:
    """One run: the columns of `runs` and its step start dates (``steps``)."""
    out = _run(conn, run_id)
    out["steps"] = [d.astype(dt.date) for d in _run_steps(out).starts]
    return out


def _cell_id(h3_cell: str) -> str:
    """The canonical (lower-case) form of a hex cell id; `ParameterError` if it is none."""
    if not h3index.is_cell(h3_cell):
        msg = f"{h3_cell!r} is not an H3 cell id (15 hex digits, like 89194655863ffff)"
        raise ParameterError(msg)
    return str(h3index.cells_to_str(h3index.str_to_cells([h3_cell]))[0])


def cell(conn: sa.Connection, h3_cell: str, *, run_id: int | None = None,
         scope: Scope = None) -> dict[str, Any]:
    """One cell of a run: category, label, current score by source, trend and step series.

    Raises
    ------
    ParameterError
        If ``h3_cell`` is not an H3 cell id.
    NotFoundError
        If there is no such run, or the run has no row for the cell (no data near it) in
        ``scope`` (`layers.scope`).
    """
    name = _cell_id(h3_cell)
    run = _run(conn, run_id)
    c = schema.run_cells
    row = conn.execute(sa.select(c).where(c.c.run_id == run["id"], c.c.h3_cell == name,
                                          *scopes.where(c.c.ward_code, scope))
                       ).mappings().one_or_none()
    if row is None:
        msg = f"cell {name} is not in run {run['id']}: no records in or near it"
        raise NotFoundError(msg)
    parts = {s: float(row[f"current_{s}"]) for s in (*SOURCES, PATROL)}
    weight = sum(parts.values())
    direction = trend_direction(np.array([row["trend_z"]]), np.array([row["trend_p"]]),
                                alpha=run["params"]["trend_alpha"])[0]
    starts = _run_steps(run).starts.astype(dt.date)
    series = zip(starts, unpack(row["values_series"]), unpack(row["z_series"]),
                 unpack(row["p_series"]), unpack(row["sig_series"], flags=True), strict=True)
    return {
        **_meta(run), "h3_cell": name, "ward_code": row["ward_code"],
        "category": row["category"], "label": row["label"], "current": row["current"],
        "parts": parts, "patrol_share": parts[PATROL] / weight if weight > 0 else 0.0,
        "trend": {"z": row["trend_z"], "p": row["trend_p"], "slope": row["trend_slope"],
                  "direction": direction},
        "steps": [{"start": d, "value": float(v), "z": float(z), "p": float(p),
                   "significant": bool(s)} for d, v, z, p, s in series],
    }


def categories(conn: sa.Connection, *, run_id: int | None = None, scope: Scope = None
               ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Cells per emerging hot spot category of a run, in `layers.emerging.CATEGORIES` order.

    Background cells are kept as counts over the whole study grid, with no place: a
    restricted ``scope`` (`layers.scope`) counts the support cells in it and no background.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``run_id`` and ``as_of``; and one row per category: ``category``, ``support_cells``
        (cells near data), ``background_cells`` (empty cells far from data) and ``cells``.
    """
    run = _run(conn, run_id)
    c, b = schema.run_cells, schema.run_background
    support = {str(k): int(n) for k, n in conn.execute(
        sa.select(c.c.category, sa.func.count())
        .where(c.c.run_id == run["id"], *scopes.where(c.c.ward_code, scope))
        .group_by(c.c.category)).all()}
    background = {} if scope is not None else {str(k): int(n or 0) for k, n in conn.execute(
        sa.select(b.c.category, sa.func.sum(b.c.cells)).where(b.c.run_id == run["id"])
        .group_by(b.c.category)).all()}
    frame = pd.DataFrame({"category": CATEGORIES,
                          "support_cells": [support.get(k, 0) for k in CATEGORIES],
                          "background_cells": [background.get(k, 0) for k in CATEGORIES]})
    frame["cells"] = frame["support_cells"] + frame["background_cells"]
    return _meta(run), frame


def _step_of(steps: Steps, day: dt.date, *, run_id: int, name: str = "since") -> int:
    """The index of the step holding ``day``; `ParameterError` naming the valid range."""
    first, last = steps.starts[0], steps.ends[-1] - 1
    when = np.datetime64(day, "D")
    if not first <= when <= last:
        msg = (f"{name}: {day} is outside the steps of run {run_id}; expected a date from "
               f"{first} to {last}")
        raise ParameterError(msg)
    return int(np.searchsorted(steps.ends, when, side="right"))


def ward_ranking(conn: sa.Connection, *, run_id: int | None = None,
                 since: dt.date | None = None, scope: Scope = None
                 ) -> tuple[dict[str, Any], pd.DataFrame]:
    """A run's wards by rank, with trend and the change of score since a date.

    ``change`` is the current score minus the ward's decayed score at the end of the step
    holding ``since`` (the run's stored ``score_series``); ``None`` without ``since``.
    A restricted ``scope`` (`layers.scope`) keeps its wards, ranked among themselves.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``run_id``, ``as_of``, ``since`` and ``since_step`` (the start of its step); and one
        row per ward: ``ward_code``, ``name``, ``rank``, ``current``, ``trend_z``,
        ``trend_p``, ``trend_slope``, ``direction``, ``patrol_share``, ``change``.
    """
    run = _run(conn, run_id)
    steps = _run_steps(run)
    t = None if since is None else _step_of(steps, since, run_id=run["id"])
    wards = read_run_wards(conn, run["id"])
    if scope is not None and len(wards):
        wards = scopes.keep(wards, scopes.wards(conn, scope)).copy()
        wards["rank"] = wards["current"].rank(ascending=False, method="min").astype(int)
    columns = ["ward_code", "name", "rank", "current", "trend_z", "trend_p", "trend_slope",
               "direction", "patrol_share", "change"]
    meta = {**_meta(run), "since": since,
            "since_step": None if t is None else steps.starts[t].astype(dt.date)}
    if wards.empty:
        return meta, pd.DataFrame(columns=columns)
    wards["direction"] = trend_direction(wards["trend_z"].to_numpy(float),
                                         wards["trend_p"].to_numpy(float),
                                         alpha=run["params"]["trend_alpha"])
    wards["change"] = None if t is None else [
        float(now - series[t]) for now, series in zip(wards["current"], wards["score_series"],
                                                      strict=True)]
    return meta, wards[columns]


def concentration(conn: sa.Connection, *, run_id: int | None = None, scope: Scope = None
                  ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Per step of a run: ``start``, ``total``, ``top_1pct``, ``top_5pct`` and ``gini``.

    The run stores them over its whole study grid. For a restricted ``scope``
    (`layers.scope`) they are worked out again from the run's cells in it, over the grid of
    its wards (every cell whose centre lies in one, or that holds a cell in scope).
    """
    run = _run(conn, run_id)
    st = schema.run_steps
    columns = ("start", "total", "top_1pct", "top_5pct", "gini")
    rows = conn.execute(sa.select(*(st.c[c] for c in columns)).where(st.c.run_id == run["id"])
                        .order_by(st.c.step)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    if scope is not None:
        frame = pd.concat([frame[["start"]], _scoped_concentration(conn, run, scope)], axis=1)
    return _meta(run), frame


def _scoped_concentration(conn: sa.Connection, run: dict[str, Any], scope: frozenset[str]
                          ) -> pd.DataFrame:
    """`layers.concentration.concentration` of a run's cells in ``scope``, over its grid."""
    c = schema.run_cells
    rows = conn.execute(sa.select(c.c.h3_cell, c.c.values_series).where(
        c.c.run_id == run["id"], *scopes.where(c.c.ward_code, scope))).all()
    values = np.array([unpack(blob) for _, blob in rows], dtype=float).reshape(
        len(rows), int(run["n_steps"]))
    areas_in, _ = areas(conn, scope=scope)
    grid = [h3index.polygon_to_cells(g, resolution=int(run["resolution"]), contain="centroid")
            for g in areas_in.geometry if g is not None]
    held = h3index.str_to_cells(np.array([name for name, _ in rows], dtype=object))
    n = len(np.unique(np.concatenate([*grid, held]).astype(np.uint64)))
    return concentration_of(values, max(n, 1))


def _steps_to(steps: Steps, day: dt.date, *, run_id: int) -> Steps:
    """The run's steps up to the one holding ``day``: its window starts where the run's did."""
    t = _step_of(steps, day, run_id=run_id, name="as_of")
    return Steps(steps.kind, steps.starts[:t + 1], steps.ends[:t + 1])


def _explain(conn: sa.Connection, run: dict[str, Any], *, as_of: dt.date | None,
             top: int, key: str, scope: Scope, **only: Any
             ) -> tuple[dict[str, Any], Explanation, int]:
    """Explain the records selected by ``only`` (in ``scope``) with the run's parameters."""
    as_of = as_of or run["as_of"]
    weights = weights_from_dict(run["params"]["weights"])
    steps = _steps_to(_run_steps(run), as_of, run_id=run["id"])
    inputs = load_inputs(conn, as_of=as_of, known_by=run["known_by"],
                         wards=scopes.ward_select(scope) if scope is not None else None,
                         **only)
    events = events_for(inputs, steps, weights, key=key, as_of=as_of)
    meta = {**_meta(run), "as_of": as_of, "known_by": run["known_by"]}
    found = sum(len(f) for f in (inputs.reports, inputs.incidents, inputs.places))
    return meta, explain(events, steps, as_of=as_of, weights=weights, top=top), found


def explain_cell(conn: sa.Connection, h3_cell: str, *, run_id: int | None = None,
                 as_of: dt.date | None = None, top: int = 10, scope: Scope = None
                 ) -> tuple[dict[str, Any], Explanation]:
    """Explain a cell's current score with a run's parameters (`layers.explain.explain`).

    The records are those known by the run's cut-off (``known_by``) and dated up to
    ``as_of`` (default the run's as-of date), over steps made like the run's. With a
    restricted ``scope`` (`layers.scope`), only the records in it, of a cell in it.

    Raises
    ------
    ParameterError
        If ``h3_cell`` is not an H3 cell id.
    NotFoundError
        If there is no such run, or the cell is neither in the run nor holds any record (in
        ``scope``), or the run places it in a ward out of ``scope``.
    """
    name = _cell_id(h3_cell)
    run = _run(conn, run_id)
    c = schema.run_cells
    in_run = sa.select(c.c.h3_cell).where(c.c.run_id == run["id"], c.c.h3_cell == name)
    missing = f"cell {name} holds no records and is not in run {run['id']}"
    if scope is not None and conn.scalar(in_run) is not None and conn.scalar(
            in_run.where(*scopes.where(c.c.ward_code, scope))) is None:
        raise NotFoundError(missing)  # the run puts it in a ward of another authority
    meta, explanation, found = _explain(conn, run, as_of=as_of, top=top, key="key",
                                        scope=scope, cells=h3index.str_to_cells([name]))
    if not found and conn.scalar(in_run.where(*scopes.where(c.c.ward_code, scope))) is None:
        raise NotFoundError(missing)
    return {**meta, "kind": "cell", "key": name}, explanation


def explain_ward(conn: sa.Connection, ward_code: str, *, run_id: int | None = None,
                 as_of: dt.date | None = None, top: int = 10, scope: Scope = None
                 ) -> tuple[dict[str, Any], Explanation]:
    """Explain a ward's current score with a run's parameters, like `explain_cell`.

    Raises
    ------
    NotFoundError
        If there is no such run, or the ward is neither a loaded area nor in the run, or
        it is not a loaded ward of ``scope`` (`layers.scope`).
    """
    run = _run(conn, run_id)
    a, w = schema.areas, schema.run_wards
    if scope is not None:
        known = conn.scalar(sa.select(a.c.code).where(
            a.c.code == ward_code, *scopes.authority_where(a.c.authority_code, scope)))
    else:
        known = conn.scalar(sa.select(a.c.code).where(a.c.code == ward_code)) or conn.scalar(
            sa.select(w.c.ward_code).where(w.c.run_id == run["id"],
                                           w.c.ward_code == ward_code))
    if known is None:
        msg = f"ward {ward_code} is not a loaded area"
        raise NotFoundError(msg)
    meta, explanation, _ = _explain(conn, run, as_of=as_of, top=top, key="ward_code",
                                    scope=scope, ward_code=ward_code)
    return {**meta, "kind": "ward", "key": ward_code}, explanation


# --- police.uk context ---------------------------------------------------------------------

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
        Only crimes in these authorities (`layers.scope`); ``None`` for all.

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
    Only reports in ``scope`` count (`layers.scope`; ``None`` for all).

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
    (`layers.scope`) keeps the postcodes of its authorities (by the district or the ward
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


def cell_states(conn: sa.Connection, *, run_id: int | None = None, scope: Scope = None
                ) -> tuple[list[str], pd.DataFrame]:
    """Per step, whether each cell was a significant hot (``h``) or cold (``c``) spot.

    Returns the step start dates and one row per cell (in ``scope``, `layers.scope`) that
    was significant at least once: ``h3_cell`` and ``states``, a string with one character
    per step (``h``, ``c`` or ``.``). Empty when there is no run.
    """
    r, c, st = schema.score_runs, schema.run_cells, schema.run_steps
    if run_id is None:
        run_id = conn.scalar(sa.select(r.c.id).order_by(r.c.id.desc()).limit(1))
    if run_id is None:
        return [], pd.DataFrame(columns=["h3_cell", "states"])
    starts = [str(d) for d in conn.scalars(sa.select(st.c.start).where(st.c.run_id == run_id)
                                           .order_by(st.c.step))]
    rows = conn.execute(sa.select(c.c.h3_cell, c.c.z_series, c.c.sig_series)
                        .where(c.c.run_id == run_id, *scopes.where(c.c.ward_code, scope))).all()
    cells, states = [], []
    for cell, z_blob, sig_blob in rows:
        sig = unpack(sig_blob, flags=True)
        if not sig.any():
            continue
        z = unpack(z_blob)
        codes = np.where(sig & (z > 0), "h", np.where(sig & (z < 0), "c", "."))
        cells.append(cell)
        states.append("".join(codes.tolist()))
    return starts, pd.DataFrame({"h3_cell": cells, "states": states})


def place_detail(conn: sa.Connection, source_id: str, *, activities_limit: int = 5,
                 scope: Scope = None) -> dict[str, Any]:
    """One place (never its notes), its level history and its latest activities.

    Raises
    ------
    NotFoundError
        When no place has this id, or none in ``scope`` (`layers.scope`).
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
                                    lv.c.reason).where(lv.c.place_id == row["id"])
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
        When no place has this id, or none in ``scope`` (`layers.scope`).
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
