"""Store scoring runs and read them back (I/O of the hot spot engine).

A run is stored with every parameter that produced it (the weight table included), the
"known by" cut-off of its inputs, per-step checksums (so the next run recomputes only the
steps whose input changed) and, per cell and per ward, the step series packed as
little-endian float64 bytes: one row per cell rather than one per cell and step.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo import h3index
from geo.wards import WardIndex
from layers.hotspots.coverage import describe
from layers.hotspots.cube import decay_factors, make_steps
from layers.hotspots.engine import HotSpots, Previous, ScoreParams, score_hotspots, score_series
from layers.hotspots.inputs import ScoreInputs, load_score_inputs, stored_after
from layers.store import schema
from layers.store.engine import Store, records, utcnow, ward_index


class NothingToScoreError(ValueError):
    """No study area and no record to score at the requested time."""


def pack(values: np.ndarray) -> bytes:
    """One series as bytes (float64, or bool for significance)."""
    arr = np.asarray(values)
    return arr.astype("<f8" if arr.dtype != bool else "?").tobytes()


def unpack(blob: bytes, *, flags: bool = False) -> np.ndarray:
    """The inverse of `pack`."""
    return np.frombuffer(blob, dtype="?" if flags else "<f8")


@dataclass(frozen=True)
class RunSummary:
    """What `run_scoring` did."""

    run_id: int
    hotspots: HotSpots
    duration_s: float
    later_records: int
    known_by: dt.datetime | None = None
    in_window: int = 0  # reports and police.uk crimes dated inside the scored steps


def newest_record_day(conn: sa.Connection) -> dt.date | None:
    """The day of the newest located concern report or police.uk month's last day."""
    r, i = schema.reports, schema.incidents
    report = conn.scalar(sa.select(sa.func.max(r.c.reported_on)).where(r.c.h3_cell.is_not(None)))
    month = conn.scalar(sa.select(sa.func.max(i.c.month)).where(i.c.h3_cell.is_not(None)))
    days = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
            for d in (report,) if d is not None]
    if month:
        days.append(pd.Period(str(month), freq="M").end_time.date())
    return max(days, default=None)


def default_as_of(store: Store, *, today: dt.date, step: str, n_steps: int | None
                  ) -> tuple[dt.date, str | None]:
    """Today, or the newest record's day when the window ending today would hold none.

    Returns the day and, when it is not today, a sentence saying why.
    """
    with store.connect() as conn:
        newest = newest_record_day(conn)
    window = make_steps(today, kind=step, count=n_steps)
    if newest is None or newest >= window.starts[0].astype(dt.date):
        return today, None
    note = (f"no concern reports and no police.uk crime in the {len(window)} {step}s to today "
            f"({today}); the newest record is dated {newest}, so this run is as of {newest} "
            "(pass --as-of to choose another day)")
    return newest, note


def run_warnings(run: RunSummary) -> list[str]:
    """What a reader of a run should know: a short window, few records, late police.uk."""
    h = run.hotspots
    unit, n = h.params.step, len(h.steps)
    first, last = h.steps.starts[0].astype(dt.date), (h.steps.ends[-1] - 1).astype(dt.date)
    out = []
    if n < h.asked_steps:
        out.append(f"the data cover {describe(h.coverage)}: scored the {n} {unit}s from "
                   f"{first}, not the {h.asked_steps} asked for (earlier {unit}s hold no "
                   f"records and would count as quiet {unit}s)")
    crime = h.coverage.sources.get("incidents")
    if crime and np.datetime64(crime[1], "D") < h.steps.starts[-1]:
        late = int((h.steps.starts > np.datetime64(crime[1], "D")).sum())
        out.append(f"police.uk crime ends {crime[1]}: the last {late} {unit}s hold none "
                   "(police.uk publishes about two months late), so their scores rest on "
                   "concern reports and places alone")
    gaps = [m for m in h.coverage.missing_months
            if np.datetime64(m, "M") >= h.steps.starts[0].astype("datetime64[M]")]
    if gaps:
        out.append(f"police.uk crime has no records for {', '.join(gaps)}, between months "
                   f"that have some: the {unit}s in {'it' if len(gaps) == 1 else 'them'} count "
                   f"as without crime. Import the missing month's file from "
                   "https://data.police.uk/data/ (placerisk import police-uk FILE)")
    if run.in_window == 0:
        out.append(f"the window ({first} to {last}) holds no concern reports and no police.uk "
                   "crime: every cell will show no pattern and every ward 0")
    elif run.in_window < n:
        out.append(f"only {run.in_window} concern reports and police.uk crimes in the {n} "
                   f"{unit}s: too few for hot spots to stand out")
    if run.later_records:
        known = f"{run.known_by:%Y-%m-%d %H:%M} UTC" if run.known_by else "the cut-off"
        out.append(f"{run.later_records} records dated up to {h.params.as_of} were stored "
                   f"after {known} and are left out: a run counts what was known by the end "
                   "of its as-of day, so a past JAG meeting's map is reproduced exactly. To "
                   "count them (history imported since, say), add --known-by with a later "
                   f"time, e.g. --known-by {utcnow():%Y-%m-%dT%H:%M}")
    return out


def run_scoring(store: Store, params: ScoreParams, *, known_by: dt.datetime | None = None,
                incremental: bool = True) -> RunSummary:
    """Load the inputs known at the cut-off, score them and store the run."""
    started = time.perf_counter()
    with store.connect() as conn:
        inputs = load_score_inputs(conn, as_of=params.as_of, known_by=known_by)
        previous = latest_previous(conn, params) if incremental else None
        later = stored_after(conn, inputs.known_by, as_of=params.as_of)
    if len(inputs.grid) == 0:
        hint = (f"{later} records dated up to then were stored later: pass --known-by to count "
                "them" if later else "load ward boundaries and import records first")
        msg = (f"nothing to score as of {params.as_of}: no boundaries and no located records "
               f"known by {inputs.known_by:%Y-%m-%d %H:%M} UTC; {hint}")
        raise NothingToScoreError(msg)
    result = score_hotspots(inputs, params, previous=previous)
    duration = time.perf_counter() - started
    with store.begin() as conn:
        run_id = _save(conn, result, inputs.known_by, inputs.resolution, duration)
    return RunSummary(run_id, result, duration, later, inputs.known_by,
                      _in_window(inputs, result))


def _in_window(inputs: ScoreInputs, h: HotSpots) -> int:
    """Reports and police.uk crimes dated inside the run's steps."""
    first = h.steps.starts[0]
    days = pd.to_datetime(inputs.reports["reported_on"]).to_numpy().astype("datetime64[D]")
    months = np.asarray(inputs.incidents["month"], dtype=str).astype("datetime64[M]")
    return int((days >= first).sum() + (months >= first.astype("datetime64[M]")).sum())


def _save(conn: sa.Connection, h: HotSpots, known_by: dt.datetime, resolution: int,
          duration: float) -> int:
    p = h.params
    inserted = conn.execute(sa.insert(schema.score_runs).values(
        as_of=p.as_of, known_by=known_by, step=p.step, n_steps=len(h.steps), k=p.k,
        fingerprint=p.fingerprint(), params_json=json.dumps(p.as_dict(), sort_keys=True),
        coverage_json=json.dumps(run_coverage(h), sort_keys=True),
        resolution=resolution, grid_size=h.grid_size, n_cells=len(h.cells),
        reused_steps=h.reused_steps, duration_s=duration, created_at=utcnow(),
    )).inserted_primary_key
    assert inserted is not None
    run_id = int(inserted[0])
    conc = h.concentration
    conn.execute(sa.insert(schema.run_steps), [
        {"run_id": run_id, "step": t, "start": h.steps.starts[t].astype(dt.date),
         "checksum": h.checksums[t], "total": float(conc["total"][t]),
         "top_1pct": float(conc["top_1pct"][t]), "top_5pct": float(conc["top_5pct"][t]),
         "gini": float(conc["gini"][t])} for t in range(len(h.steps))])
    if len(h.cells):
        conn.execute(sa.insert(schema.run_cells), _cell_rows(run_id, h, ward_index(conn)))
    if len(h.wards):
        conn.execute(sa.insert(schema.run_wards), _ward_rows(run_id, h))
    if len(h.background):
        rows = records(h.background.assign(run_id=run_id), ["run_id", "w", "cells", "category"])
        conn.execute(sa.insert(schema.run_background), rows)
    return int(run_id)


def run_coverage(h: HotSpots) -> dict[str, Any]:
    """What a run states about its period.

    `layers.hotspots.coverage.Coverage.as_dict`, plus the steps asked for and scored, and the scored
    window's first and last day.
    """
    return {**h.coverage.as_dict(), "steps_asked": h.asked_steps, "steps_scored": len(h.steps),
            "window": {"first": str(h.steps.starts[0]), "last": str(h.steps.ends[-1] - 1)}}


def _cell_rows(run_id: int, h: HotSpots, index: WardIndex | None) -> list[dict[str, Any]]:
    decay = decay_factors(h.steps, as_of=h.params.as_of,
                          half_life_days=h.params.weights.half_life_days)
    current = {name: part @ decay for name, part in h.parts.items()}
    names = h3index.cells_to_str(h.cells)
    lat, lng = h3index.cells_to_latlng(h.cells)
    wards = index.assign(lat, lng) if index is not None else [None] * len(h.cells)
    return [
        {"run_id": run_id, "h3_cell": names[i], "ward_code": wards[i],
         "category": str(h.category[i]),
         "label": str(h.label[i]), "current": float(h.current[i]),
         "current_reports": float(current["reports"][i]),
         "current_incidents": float(current["incidents"][i]),
         "current_places": float(current["places"][i]),
         "current_patrol": float(current["patrol"][i]), "z_last": float(h.z[i, -1]),
         "trend_z": float(h.trend.z[i]), "trend_p": float(h.trend.p[i]),
         "trend_slope": float(h.trend.slope[i]), "values_series": pack(h.values[i]),
         "z_series": pack(h.z[i]), "p_series": pack(h.p[i]), "sig_series": pack(h.sig[i])}
        for i in range(len(h.cells))
    ]


def _ward_rows(run_id: int, h: HotSpots) -> list[dict[str, Any]]:
    series = np.vstack(h.wards["series"].to_numpy())
    scores = score_series(series, h.steps, half_life_days=h.params.weights.half_life_days,
                          as_of=h.params.as_of)
    return [
        {"run_id": run_id, "ward_code": w.ward_code, "rank": int(w.rank),
         "current": float(w.current), "patrol_share": float(w.patrol_share),
         "trend_z": float(w.trend_z), "trend_p": float(w.trend_p),
         "trend_slope": float(w.trend_slope), "values_series": pack(series[i]),
         "score_series": pack(scores[i])}
        for i, w in enumerate(h.wards.itertuples())
    ]


def latest_previous(conn: sa.Connection, params: ScoreParams) -> Previous | None:
    """The newest stored run with the same parameters, as `Previous` for reuse."""
    runs = schema.score_runs
    run_id = conn.scalar(sa.select(runs.c.id).where(runs.c.fingerprint == params.fingerprint())
                         .order_by(runs.c.id.desc()).limit(1))
    if run_id is None:
        return None
    st = schema.run_steps
    steps = conn.execute(sa.select(st.c.start, st.c.checksum).where(st.c.run_id == run_id)
                         .order_by(st.c.step)).all()
    starts = [str(s) for s, _ in steps]
    c = schema.run_cells
    rows = conn.execute(sa.select(c.c.h3_cell, c.c.z_series, c.c.p_series)
                        .where(c.c.run_id == run_id)).all()
    cells = h3index.str_to_cells([r[0] for r in rows])
    order = np.argsort(cells)
    z = np.array([unpack(r[1]) for r in rows]).reshape(len(rows), len(starts))[order]
    p = np.array([unpack(r[2]) for r in rows]).reshape(len(rows), len(starts))[order]
    cells = cells[order]
    return Previous(dict(zip(starts, (c for _, c in steps), strict=True)), cells, z, p, starts)


