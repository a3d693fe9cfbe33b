"""Read stored scoring runs for the API and the map: cells, categories, wards, explanations.

Every function takes an open ``sqlalchemy.Connection`` and writes nothing. The run queries
(`runs`, `run`, `cell`, `categories`, `ward_ranking`, `concentration`, `explain_cell`,
`explain_ward`) read the newest run unless given a ``run_id``; they raise
`layers.errors.NotFoundError` for an unknown run, cell or ward and
`layers.errors.ParameterError` for a bad argument. Every query of cells, wards or their
aggregates takes ``scope`` (`layers.store.scope`); a run's own parameters and sizes (`runs`,
`run`) are shared.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo import h3index
from layers.errors import NotFoundError, ParameterError
from layers.hotspots.concentration import concentration as concentration_of
from layers.hotspots.coverage import covered_text
from layers.hotspots.cube import PATROL, SOURCES, Steps, make_steps
from layers.hotspots.emerging import CATEGORIES
from layers.hotspots.engine import events_for
from layers.hotspots.explain import Explanation, explain, weights_from_dict
from layers.hotspots.inputs import load_score_inputs
from layers.hotspots.runs import unpack
from layers.records.read import areas
from layers.store import schema
from layers.store import scope as scopes
from layers.store.paging import Page, page_of
from layers.store.scope import Scope

NO_RUN = "no scoring run yet: run `placerisk score`"


CELL_COLUMNS = ("h3_cell", "score", "category", "label", "z_last", "trend_z", "ward_code",
                "as_of", "run_id")


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
        Only cells whose centre lies in a ward of these authorities (`layers.store.scope`).

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
    return page_of(conn, stmt, order, CELL_COLUMNS, limit=limit, offset=offset)


RUN_COLUMNS = ("id", "as_of", "known_by", "created_at", "step", "n_steps", "k", "fingerprint",
               "resolution", "n_cells", "grid_size", "reused_steps", "duration_s")


TREND_DIRECTIONS = {1: "increasing", -1: "decreasing", 0: "no trend"}


def read_run(conn: sa.Connection, run_id: int | None = None, *, step_table: bool = False
             ) -> dict[str, Any]:
    """One run's row with its parsed ``params`` and ``coverage``: ``run_id``, or else the newest.

    The one reader of a stored run. ``covered`` is the period its data cover as the API
    states it (`covered`); with ``step_table``, ``steps`` is its table of steps (``step``,
    ``start`` and the step's checksum), in order.

    Raises
    ------
    NotFoundError
        If there is no such run, or no run at all.
    """
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
    if step_table:
        st = schema.run_steps
        out["steps"] = pd.DataFrame(conn.execute(
            sa.select(st).where(st.c.run_id == out["id"]).order_by(st.c.step)).mappings().all())
    return out


def _run_steps(run: dict[str, Any]) -> Steps:
    """The time steps of a run, as the engine made them."""
    return make_steps(run["as_of"], kind=run["step"], count=run["n_steps"])


def _meta(run: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": run["id"], "as_of": run["as_of"], "covered": covered(run)}


def run_period(conn: sa.Connection, run_id: int | None = None) -> str | None:
    """`layers.hotspots.coverage.covered_text` of a run (default the newest); ``None`` if no run."""
    try:
        run = read_run(conn, run_id)
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
    page = page_of(conn, sa.select(*(r.c[c] for c in columns)), [r.c.id.desc()], columns,
                 limit=limit, offset=offset)
    page.rows["params"] = [json.loads(text) for text in page.rows.pop("params_json")]
    page.rows["covered"] = [covered({"coverage": json.loads(text or "null")})
                            for text in page.rows.pop("coverage_json")]
    return page


def run(conn: sa.Connection, run_id: int) -> dict[str, Any]:
    """One run: the columns of `runs` and its step start dates (``steps``)."""
    out = read_run(conn, run_id)
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
        ``scope`` (`layers.store.scope`).
    """
    name = _cell_id(h3_cell)
    run = read_run(conn, run_id)
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
    """Cells per emerging hot spot category of a run, in `emerging.CATEGORIES` order.

    Background cells are kept as counts over the whole study grid, with no place: a
    restricted ``scope`` (`layers.store.scope`) counts the support cells in it and no background.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``run_id`` and ``as_of``; and one row per category: ``category``, ``support_cells``
        (cells near data), ``background_cells`` (empty cells far from data) and ``cells``.
    """
    run = read_run(conn, run_id)
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
    A restricted ``scope`` (`layers.store.scope`) keeps its wards, ranked among themselves.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``run_id``, ``as_of``, ``since`` and ``since_step`` (the start of its step); and one
        row per ward: ``ward_code``, ``name``, ``rank``, ``current``, ``trend_z``,
        ``trend_p``, ``trend_slope``, ``direction``, ``patrol_share``, ``change``.
    """
    run = read_run(conn, run_id)
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
    (`layers.store.scope`) they are worked out again from the run's cells in it, over the grid of
    its wards (every cell whose centre lies in one, or that holds a cell in scope).
    """
    run = read_run(conn, run_id)
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
    """`concentration.concentration` of a run's cells in ``scope``, over its grid."""
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
    inputs = load_score_inputs(conn, as_of=as_of, known_by=run["known_by"],
                         wards=scopes.ward_select(scope) if scope is not None else None,
                         **only)
    events = events_for(inputs, steps, weights, key=key, as_of=as_of)
    meta = {**_meta(run), "as_of": as_of, "known_by": run["known_by"]}
    found = sum(len(f) for f in (inputs.reports, inputs.incidents, inputs.places))
    return meta, explain(events, steps, as_of=as_of, weights=weights, top=top), found


def explain_cell(conn: sa.Connection, h3_cell: str, *, run_id: int | None = None,
                 as_of: dt.date | None = None, top: int = 10, scope: Scope = None
                 ) -> tuple[dict[str, Any], Explanation]:
    """Explain a cell's current score with a run's parameters (`layers.hotspots.explain.explain`).

    The records are those known by the run's cut-off (``known_by``) and dated up to
    ``as_of`` (default the run's as-of date), over steps made like the run's. With a
    restricted ``scope`` (`layers.store.scope`), only the records in it, of a cell in it.

    Raises
    ------
    ParameterError
        If ``h3_cell`` is not an H3 cell id.
    NotFoundError
        If there is no such run, or the cell is neither in the run nor holds any record (in
        ``scope``), or the run places it in a ward out of ``scope``.
    """
    name = _cell_id(h3_cell)
    run = read_run(conn, run_id)
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
        it is not a loaded ward of ``scope`` (`layers.store.scope`).
    """
    run = read_run(conn, run_id)
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


def cell_states(conn: sa.Connection, *, run_id: int | None = None, scope: Scope = None
                ) -> tuple[list[str], pd.DataFrame]:
    """Per step, whether each cell was a significant hot (``h``) or cold (``c``) spot.

    Returns the step start dates and one row per cell (in ``scope``, `layers.store.scope`) that
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


def latest_run_id(conn: sa.Connection, *, as_of: dt.date | None = None) -> int | None:
    """The newest run (for ``as_of`` if given)."""
    runs = schema.score_runs
    query = sa.select(runs.c.id).order_by(runs.c.id.desc()).limit(1)
    if as_of is not None:
        query = query.where(runs.c.as_of == as_of)
    return conn.scalar(query)


def read_run_cells(conn: sa.Connection, run_id: int, *, series: bool = False,
                   scope: frozenset[str] | None = None) -> pd.DataFrame:
    """A run's cells, with the ward of each (from the located records) and optional series.

    ``scope``: only the cells in these authorities (`layers.store.scope`); ``None`` for all.
    """
    c = schema.run_cells
    cols = [col for col in c.columns if series or not col.name.endswith("_series")]
    query = sa.select(*cols).where(c.c.run_id == run_id, *scopes.where(c.c.ward_code, scope))
    frame = pd.DataFrame(conn.execute(query.order_by(c.c.current.desc())).mappings().all(),
                         columns=[col.name for col in cols])
    if series:
        for name in ("values_series", "z_series", "p_series"):
            frame[name] = [unpack(b).tolist() for b in frame[name]]
        frame["sig_series"] = [unpack(b, flags=True).tolist() for b in frame["sig_series"]]
    return frame


def read_run_wards(conn: sa.Connection, run_id: int) -> pd.DataFrame:
    """A run's ward ranking with each ward's name and step series."""
    w, a = schema.run_wards, schema.areas
    rows = conn.execute(sa.select(w, a.c.name, a.c.authority_name)
                        .join(a, a.c.code == w.c.ward_code, isouter=True)
                        .where(w.c.run_id == run_id).order_by(w.c.rank)).mappings().all()
    frame = pd.DataFrame(rows)
    if len(frame):
        for name in ("values_series", "score_series"):
            frame[name] = [unpack(b) for b in frame[name]]
    return frame
