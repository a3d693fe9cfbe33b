"""Turn stored records into weighted events for the cube (pure functions over frames)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from layers.hotspots.cube import EVENT_SOURCES, PATROL, Steps
from layers.hotspots.weights import Weights


def _frame(key: np.ndarray, start: np.ndarray, days: np.ndarray, weight: np.ndarray,
           patrol: np.ndarray, source: str, kind: str, record: np.ndarray) -> pd.DataFrame:
    """Events of one kind; ``source`` for all but the ``patrol`` ones, which get `PATROL`."""
    codes = np.where(patrol, EVENT_SOURCES.index(PATROL), EVENT_SOURCES.index(source))
    n = len(key)
    return pd.DataFrame({
        "key": key, "start": start.astype("datetime64[s]"), "days": days.astype(np.int64),
        "weight": weight.astype(float),
        "source": pd.Categorical.from_codes(codes.astype(np.int8), categories=EVENT_SOURCES),
        "kind": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[kind]),
        "record": record})


def report_events(reports: pd.DataFrame, weights: Weights) -> pd.DataFrame:
    """One-day events from concern reports, weighted by their MACE level.

    ``reports`` has ``key``, ``source_id``, ``reported_on``, ``mace_level`` and
    ``patrol_discovered``. Patrol-discovered reports get the source `PATROL`.
    """
    level = reports["mace_level"].to_numpy(int)
    table = np.zeros(5)
    for lv, w in weights.report_levels.items():
        table[lv] = w
    patrol = reports["patrol_discovered"].to_numpy(bool)
    return _frame(
        reports["key"].to_numpy(), pd.to_datetime(reports["reported_on"]).to_numpy(),
        np.ones(len(reports)), table[level], patrol, "reports", "report",
        reports["source_id"].to_numpy())


def incident_events(incidents: pd.DataFrame, weights: Weights) -> pd.DataFrame:
    """Month-long events from police.uk incidents, weighted by crime type.

    ``incidents`` has ``key``, ``incident_key``, ``month`` (YYYY-MM) and ``crime_type``.
    Types in ``weights.patrol_generated`` get the source `PATROL`.
    """
    month = pd.to_datetime(incidents["month"], format="%Y-%m").to_numpy().astype(
        "datetime64[M]")
    days = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(int)
    crime = incidents["crime_type"].astype(str)
    weight = crime.map(weights.crime_types).fillna(weights.other_crime_type).to_numpy(float)
    patrol = crime.isin(weights.patrol_generated).to_numpy()
    return _frame(incidents["key"].to_numpy(), month.astype("datetime64[D]"), days, weight,
                  patrol, "incidents", "incident", incidents["incident_key"].to_numpy())


def place_events(places: pd.DataFrame, history: pd.DataFrame, steps: Steps,
                 weights: Weights, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """Events on the last day of each step, weighted by each place's level at that day.

    ``places`` has ``id``, ``key`` and ``source_id``; ``history`` has ``place_id``,
    ``changed_on`` and ``to_level`` (every change of level, the first included). History of
    places not in ``places`` is ignored: a ward cube passes only the places in a ward, and a
    place outside every ward counts in its cell, not in any ward. The step
    holding ``as_of`` is read at ``as_of``, not at its end, which lies in the future.
    """
    history = history[history["place_id"].isin(places["id"])]  # e.g. places outside wards
    if places.empty or history.empty or len(steps) == 0:
        none = np.array([])
        return _frame(none, none, none, none, none.astype(bool), "places", "place", none)
    last_day = steps.ends - 1
    if as_of is not None:
        last_day = np.minimum(last_day, np.datetime64(as_of, "D"))
    h = history.sort_values(["place_id", "changed_on"], kind="stable")
    since = pd.to_datetime(h["changed_on"]).to_numpy().astype("datetime64[D]")
    pid = h["place_id"].to_numpy()
    until = np.r_[since[1:], np.datetime64("9999-12-31")]
    until = np.where(np.r_[pid[1:] == pid[:-1], False], until, np.datetime64("9999-12-31"))
    first = np.searchsorted(last_day, since, side="left")
    stop = np.searchsorted(last_day, until, side="left")
    count = np.clip(stop - first, 0, None)
    row = np.repeat(np.arange(len(h)), count)
    col = np.repeat(first, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count,
                                                                       count)
    table = np.zeros(5)
    for lv, w in weights.place_levels.items():
        table[lv] = w
    weight = table[h["to_level"].to_numpy(int)[row]]
    info = places.set_index("id").loc[pid[row]]
    keep = (weight > 0) & info["key"].notna().to_numpy()
    return _frame(info["key"].to_numpy()[keep], last_day[col][keep], np.ones(keep.sum()),
                  weight[keep], np.zeros(keep.sum(), bool), "places", "place",
                  info["source_id"].to_numpy()[keep])
