"""Patrol plan: a shift's timetable of short, repeated, unpredictable visits to a ward's top cells.

Built on `layers.action.patrol.cells.patrol_cells` (which cells, their radio labels, the visiting
order and the 10-15 minute dwell times), this module adds the clock, following the Koper curve
(DOMAIN.md, "Patrols"): short visits, each cell revisited roughly every couple of hours, at times
that are hard to predict.

Scheduling rule
---------------
- The ward's top cells are split among the officers into contiguous stretches of the
  nearest-neighbour tour (`officer_groups`), so each officer patrols cells near each other.
- Each officer walks *rounds*: a round visits the officer's cells in tour order, dwelling at
  each, travelling between them at ``speed_kmh`` along the straight line in British National
  Grid metres (default 12 km/h, a mix of walking and driving; rounded up to whole minutes).
- The first round starts 0-30 minutes after the shift starts; each later round starts a
  random 90-150 minutes after the one before (`REVISIT_MINUTES`), or back to back when a
  round, including the leg back to its first cell, takes longer than that. So visits to the
  same cell are 90-150 minutes apart whenever the round fits in that time.
- No visit ends after the shift ends: the last round is cut short if need be.
- The random draws come from the date, the seed and the ward (and, per officer, the officer
  number): the same inputs give the same plan and different dates give different times.

The plan shows cells, labels, scores, categories and times only: no place names, notes or
grades. Its score is the independent score, without patrol-discovered records (bias guardrail).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.crs import latlng_to_bng
from layers.action.patrol.cells import DEFAULT_TOP, patrol_cells, tour_length_m

DEFAULT_SPEED_KMH = 12.0  # mixed foot and vehicle patrol, straight-line distance
SPEED_KMH = (1.0, 100.0)
HOURS = (1.0, 12.0)
MAX_OFFICERS = 10
MAX_START_OFFSET_MINUTES = 30
REVISIT_MINUTES = (90, 150)  # Koper curve: back roughly every couple of hours
NOT_IN_PLAN = "not in plan"
VISIT_COLUMNS = ("officer", "round", "order", "label", "h3_cell", "lat", "lng", "arrive",
                 "leave", "dwell_minutes")
DONE_COLUMNS = ("officer", "order", "label", "h3_cell", "planned_visits", "planned_minutes",
                "done_visits", "done_minutes", "done_unknown_minutes", "status")
ACTIVITY_COLUMNS = ("h3_cell", "started_at", "ended_at", "jag_ref")


@dataclass(frozen=True)
class PatrolPlan:
    """One shift's patrol plan for one ward.

    Attributes
    ----------
    ward_code, date
        The ward and the day the shift starts.
    start, end
        When the shift starts and ends (naive local date-times).
    officers
        Officers asked for; with fewer cells than officers some have nothing to visit.
    cells
        The `layers.action.patrol.cells.patrol_cells` frame plus ``officer`` (1 to ``officers``).
    visits
        One row per visit, columns `VISIT_COLUMNS`, by officer and time; ``order`` is the
        cell's place in the officer's round, ``round`` counts from 1.
    coverage
        Share of the ward's summed current score held by the plan's cells.
    tour_length_m
        Straight-line metres of one round, summed over officers (leg back not included).
    plan_id
        Short stable id (``PP-yymmdd-xxxxxx``) for the ``jag_ref`` of the patrols done.
    speed_kmh
        Travel speed used between cells.
    """

    ward_code: str
    date: dt.date
    start: dt.datetime
    end: dt.datetime
    officers: int
    cells: pd.DataFrame
    visits: pd.DataFrame
    coverage: float
    tour_length_m: float
    plan_id: str
    speed_kmh: float = DEFAULT_SPEED_KMH


def _digest(text: str, size: int = 8) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def _number(value: object) -> TypeGuard[float]:
    """Tell whether ``value`` is a real number (``True`` and ``False`` are not)."""
    real = isinstance(value, int | float | np.integer | np.floating)
    return real and not isinstance(value, bool)


def _check_shift(ward_code: object, date: object, start: object, hours: object,
                 officers: object, speed_kmh: object) -> None:
    """Raise ValueError naming the first bad shift input."""
    low, high = HOURS
    problems = [
        (not isinstance(ward_code, str) or not ward_code.strip(),
         f"ward_code must be a non-empty string, got {ward_code!r}"),
        (isinstance(date, dt.datetime) or not isinstance(date, dt.date),
         f"date must be a datetime.date (the start time goes in start), got {date!r}"),
        (not isinstance(start, dt.time) or start.tzinfo is not None,
         f"start must be a datetime.time without a time zone, like time(18, 0), got {start!r}"),
        (not _number(hours) or not low <= float(hours) <= high,
         f"hours must be a number from {low:g} to {high:g}, got {hours!r}"),
        (isinstance(officers, bool) or not isinstance(officers, int | np.integer)
         or not 1 <= int(officers) <= MAX_OFFICERS,
         f"officers must be an integer from 1 to {MAX_OFFICERS}, got {officers!r}"),
        (not _number(speed_kmh) or not SPEED_KMH[0] <= float(speed_kmh) <= SPEED_KMH[1],
         f"speed_kmh must be a number from {SPEED_KMH[0]:g} to {SPEED_KMH[1]:g}, "
         f"got {speed_kmh!r}"),
    ]
    for bad, msg in problems:
        if bad:
            raise ValueError(msg)


def plan_id(*, ward_code: str, date: dt.date, start: dt.time, hours: float, officers: int,
            top: int, seed: int | None, speed_kmh: float = DEFAULT_SPEED_KMH) -> str:
    """A short id naming a plan's inputs: ``PP-`` and the date, then 6 hex digits.

    Examples
    --------
    >>> a = plan_id(ward_code="E05001", date=dt.date(2025, 3, 31), start=dt.time(18),
    ...             hours=8, officers=1, top=8, seed=None)
    >>> a[:10], len(a)
    ('PP-250331-', 16)
    >>> a == plan_id(ward_code="E05001", date=dt.date(2025, 3, 31), start=dt.time(18),
    ...              hours=8, officers=2, top=8, seed=None)
    False
    """
    key = "|".join([ward_code, date.isoformat(), start.isoformat(), repr(float(hours)),
                    str(int(officers)), str(int(top)), repr(seed), repr(float(speed_kmh))])
    return f"PP-{date:%y%m%d}-{_digest(key, 3).hex()}"


def officer_groups(n_cells: int, officers: int) -> np.ndarray:
    """Officer number (from 1) for each position of a tour, in contiguous stretches.

    Stretches differ in size by at most one cell; earlier officers take the larger ones.
    With fewer cells than officers, the last officers get none.

    Examples
    --------
    >>> officer_groups(7, 3).tolist()
    [1, 1, 1, 2, 2, 3, 3]
    >>> officer_groups(2, 3).tolist()
    [1, 2]
    """
    sizes = [len(chunk) for chunk in np.array_split(np.arange(n_cells), officers)]
    return np.repeat(np.arange(1, officers + 1, dtype=np.int64), sizes)


def travel_minutes(lat: np.ndarray, lng: np.ndarray, *,
                   speed_kmh: float = DEFAULT_SPEED_KMH) -> npt.NDArray[np.int64]:
    """Whole minutes from each point to the next, the last back to the first.

    Straight-line distance in British National Grid metres at ``speed_kmh``, rounded up.

    Examples
    --------
    >>> travel_minutes(np.array([54.568, 54.577]), np.array([-1.3187, -1.3187])).tolist()
    [6, 6]
    """
    if len(lat) < 2:
        return np.zeros(len(lat), dtype=np.int64)
    e, n = latlng_to_bng(np.asarray(lat, float), np.asarray(lng, float))
    metres = np.hypot(np.roll(e, -1) - e, np.roll(n, -1) - n)
    return np.ceil(metres / (speed_kmh * 1000.0 / 60.0)).astype(np.int64)


def round_starts(cycle: int, shift_minutes: int, first_dwell: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Minutes after the shift start at which each round starts (see the module rules).

    Examples
    --------
    >>> starts = round_starts(40, 480, 12, np.random.default_rng(0))
    >>> gaps = np.diff(starts)
    >>> bool(starts[0] <= 30), bool(((gaps >= 90) & (gaps <= 150)).all())
    (True, True)
    """
    starts = []
    t = int(rng.integers(0, MAX_START_OFFSET_MINUTES + 1))
    while t + first_dwell <= shift_minutes:
        starts.append(t)
        t += max(cycle, int(rng.integers(REVISIT_MINUTES[0], REVISIT_MINUTES[1] + 1)))
    return np.asarray(starts, dtype=np.int64)


def _officer_visits(route: pd.DataFrame, *, start: dt.datetime, shift_minutes: int,
                    speed_kmh: float, rng: np.random.Generator) -> pd.DataFrame:
    """The visits of one officer's route (one officer's rows of the cells frame, in order)."""
    dwell = route["dwell_minutes"].to_numpy(np.int64)
    legs = travel_minutes(route["lat"].to_numpy(), route["lng"].to_numpy(), speed_kmh=speed_kmh)
    within = np.concatenate([[0], np.cumsum(dwell + legs)[:-1]])  # arrival within a round
    starts = round_starts(int((dwell + legs).sum()), shift_minutes, int(dwell[0]), rng)
    arrive = starts[:, None] + within[None, :]
    rounds, pos = np.nonzero(arrive + dwell[None, :] <= shift_minutes)
    minutes = arrive[rounds, pos]
    out = route.iloc[pos][["officer", "label", "h3_cell", "lat", "lng", "dwell_minutes"]]
    out = out.reset_index(drop=True).assign(round=rounds + 1, order=pos + 1)
    out["arrive"] = pd.Timestamp(start) + pd.to_timedelta(minutes, unit="min")
    out["leave"] = out["arrive"] + pd.to_timedelta(out["dwell_minutes"], unit="min")
    return out[list(VISIT_COLUMNS)]


def _empty_visits() -> pd.DataFrame:
    return pd.DataFrame({
        "officer": np.array([], np.int64), "round": np.array([], np.int64),
        "order": np.array([], np.int64), "label": np.array([], object),
        "h3_cell": np.array([], object), "lat": np.array([], float), "lng": np.array([], float),
        "arrive": pd.to_datetime(np.array([], "datetime64[us]")),
        "leave": pd.to_datetime(np.array([], "datetime64[us]")),
        "dwell_minutes": np.array([], np.int64),
    })


def plan_shift(cells: pd.DataFrame, *, ward_code: str, date: dt.date,
               start: dt.time = dt.time(18, 0), hours: float = 8, officers: int = 1,
               top: int = DEFAULT_TOP, seed: int | None = None,
               speed_kmh: float = DEFAULT_SPEED_KMH) -> PatrolPlan:
    """Plan one shift of short, repeated visits to a ward's top cells.

    Parameters
    ----------
    cells
        One run's cells: ``h3_cell``, ``score`` (current independent score, without
        patrol-discovered records), ``category``, ``ward_code``.
    ward_code
        The ward to patrol; cells of other wards are never included.
    date, start, hours
        The shift: its day, clock start time (local, no time zone) and length, 1-12 hours.
    officers
        1 to `MAX_OFFICERS`; the tour is split into that many stretches (`officer_groups`).
    top
        How many cells, as in `layers.action.patrol.cells.patrol_cells`.
    seed
        Varies dwell times and round times; with the same ``date`` and ``seed`` the plan is
        the same. ``None`` means the date alone decides.
    speed_kmh
        Travel speed between cells along the straight line (default 12 km/h).

    Returns
    -------
    PatrolPlan
        Visits follow the rules in the module docstring.

    Raises
    ------
    ValueError
        If a shift input is out of range, or as `layers.action.patrol.cells.patrol_cells` raises.

    Examples
    --------
    >>> cells = pd.DataFrame({"h3_cell": ["89194655863ffff"], "score": [2.0],
    ...                       "category": ["hot spot"], "ward_code": ["E05001"]})
    >>> plan = plan_shift(cells, ward_code="E05001", date=dt.date(2025, 3, 31), hours=4)
    >>> plan.coverage, plan.visits["round"].tolist(), plan.end.isoformat()
    (1.0, [1, 2], '2025-03-31T22:00:00')
    """
    _check_shift(ward_code, date, start, hours, officers, speed_kmh)
    day_seed = int.from_bytes(_digest(f"{date.isoformat()}|{seed!r}"), "big")
    chosen = patrol_cells(cells, ward_code=ward_code, top=top, seed=day_seed)
    chosen.insert(0, "officer", officer_groups(len(chosen), int(officers)))
    begin = dt.datetime.combine(date, start)
    shift_minutes = math.floor(float(hours) * 60)
    ward_key = int.from_bytes(_digest(ward_code), "big")
    parts = [
        _officer_visits(route, start=begin, shift_minutes=shift_minutes,
                        speed_kmh=float(speed_kmh),
                        rng=np.random.default_rng([day_seed, ward_key, int(officer)]))
        for officer, route in chosen.groupby("officer", sort=True)
    ]
    visits = pd.concat(parts, ignore_index=True) if parts else _empty_visits()
    visits = visits.sort_values(["officer", "arrive"], ignore_index=True)
    return PatrolPlan(
        ward_code=ward_code, date=date, start=begin, end=begin + dt.timedelta(hours=float(hours)),
        officers=int(officers), cells=chosen, visits=visits,
        coverage=float(chosen["share_of_ward_score"].sum()),
        tour_length_m=float(sum(tour_length_m(r) for _, r in chosen.groupby("officer"))),
        plan_id=plan_id(ward_code=ward_code, date=date, start=start, hours=hours,
                        officers=officers, top=top, seed=seed, speed_kmh=speed_kmh),
        speed_kmh=float(speed_kmh),
    )


def _done_by_cell(plan: PatrolPlan, activities: pd.DataFrame) -> pd.DataFrame:
    """The activities naming ``plan.plan_id``, counted by cell."""
    missing = [c for c in ACTIVITY_COLUMNS if c not in activities.columns]
    if missing:
        msg = (f"activities: missing column(s) {', '.join(missing)}; "
               f"expected {', '.join(ACTIVITY_COLUMNS)}")
        raise ValueError(msg)
    ref = activities["jag_ref"].fillna("").astype(str).str.strip()
    done = activities.loc[ref == plan.plan_id]
    started = pd.to_datetime(done["started_at"])
    ended = pd.to_datetime(done["ended_at"])
    minutes = (ended - started).dt.total_seconds() / 60.0
    frame = pd.DataFrame({
        "h3_cell": done["h3_cell"].fillna("").astype(str).str.strip().str.lower(),
        "minutes": minutes.where(minutes >= 0),  # a missing or impossible end: unknown
    })
    return frame.groupby("h3_cell").agg(done_visits=("minutes", "size"),
                                        done_minutes=("minutes", "sum"),
                                        known=("minutes", "count"))


def plan_vs_done(plan: PatrolPlan, activities: pd.DataFrame) -> pd.DataFrame:
    """Compare a plan with the street patrols recorded against it.

    Parameters
    ----------
    plan
        From `plan_shift`.
    activities
        Street patrol records: ``h3_cell``, ``started_at``, ``ended_at`` (may be missing),
        ``jag_ref``. Only those whose ``jag_ref`` is ``plan.plan_id`` count, whenever done.

    Returns
    -------
    pandas.DataFrame
        Columns `DONE_COLUMNS`: one row per planned cell in tour order, then a last row
        labelled `NOT_IN_PLAN` (``officer`` and ``order`` 0, empty ``h3_cell``) counting
        the done visits to cells outside the plan. ``done_minutes`` sums the visits with a
        known end; ``done_unknown_minutes`` counts those without. ``status`` is
        ``"visited"`` or ``"not visited"`` (`NOT_IN_PLAN` on the last row).
    """
    done = _done_by_cell(plan, activities)
    planned = plan.visits.groupby("h3_cell").agg(planned_visits=("dwell_minutes", "size"),
                                                 planned_minutes=("dwell_minutes", "sum"))
    out = plan.cells[["officer", "order", "label", "h3_cell"]].join(planned, on="h3_cell")
    out = out.join(done, on="h3_cell")
    counts = ["planned_visits", "planned_minutes", "done_visits", "known"]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    out["done_minutes"] = out["done_minutes"].fillna(0.0).astype(float)
    outside = done.loc[~done.index.isin(plan.cells["h3_cell"])]
    extra = pd.DataFrame({
        "officer": [0], "order": [0], "label": [NOT_IN_PLAN], "h3_cell": [""],
        "planned_visits": [0], "planned_minutes": [0],
        "done_visits": [int(outside["done_visits"].sum())],
        "done_minutes": [float(outside["done_minutes"].sum())],
        "known": [int(outside["known"].sum())],
    })
    out = pd.concat([out, extra], ignore_index=True) if len(out) else extra
    out["done_minutes"] = out["done_minutes"].round(1)
    out["done_unknown_minutes"] = out["done_visits"] - out["known"]
    out["status"] = np.where(out["done_visits"] > 0, "visited", "not visited")
    out.loc[out["label"] == NOT_IN_PLAN, "status"] = NOT_IN_PLAN
    return out[list(DONE_COLUMNS)]


def _cell_record(row: dict[str, Any]) -> dict[str, Any]:
    category = row["category"]
    return {
        "officer": int(row["officer"]), "order": int(row["order"]), "label": str(row["label"]),
        "h3_cell": str(row["h3_cell"]), "lat": round(float(row["lat"]), 6),
        "lng": round(float(row["lng"]), 6), "score": round(float(row["score"]), 4),
        "category": None if pd.isna(category) else str(category),
        "dwell_minutes": int(row["dwell_minutes"]),
        "share_of_ward_score": round(float(row["share_of_ward_score"]), 4),
    }


def _visit_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "officer": int(row["officer"]), "round": int(row["round"]), "order": int(row["order"]),
        "label": str(row["label"]), "h3_cell": str(row["h3_cell"]),
        "arrive": row["arrive"].isoformat(), "leave": row["leave"].isoformat(),
        "dwell_minutes": int(row["dwell_minutes"]),
    }


def plan_to_dict(plan: PatrolPlan) -> dict[str, Any]:
    """The plan as JSON-ready data: ISO date-times, rounded floats, plain Python types.

    Only cells, labels, scores, categories and times: no place names, notes or grades.
    """
    return {
        "plan_id": plan.plan_id, "ward_code": plan.ward_code, "date": plan.date.isoformat(),
        "start": plan.start.isoformat(), "end": plan.end.isoformat(),
        "officers": plan.officers, "speed_kmh": round(plan.speed_kmh, 2),
        "coverage": round(plan.coverage, 4), "tour_length_m": round(plan.tour_length_m, 1),
        "cells": [_cell_record(r) for r in plan.cells.to_dict("records")],
        "visits": [_visit_record(r) for r in plan.visits.to_dict("records")],
    }
