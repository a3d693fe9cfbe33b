"""The space-time hot spot engine: cube, Gi* per step, trend and category per cell.

Pure functions over the inputs of `layers.hotspots.inputs` (no I/O). One call gives, for every
cell near data: its value per step (by source), Gi* z and significance per step, the
Mann-Kendall trend of its z series, its emerging hot spot category and simple label, and its
current (decayed) score; plus concentration per step and the same summary per ward.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from layers.hotspots import emerging, getis, trend
from layers.hotspots.concentration import concentration
from layers.hotspots.coverage import Coverage, check_steps, clip_steps, data_coverage
from layers.hotspots.cube import (
    EVENT_COLUMNS,
    PATROL,
    Cube,
    Steps,
    build_cube,
    decay_factors,
    make_steps,
)
from layers.hotspots.cube_events import incident_events, place_events, report_events
from layers.hotspots.inputs import ScoreInputs
from layers.hotspots.weights import Weights

RECENT_STEPS = 4  # the final steps that make a cell "emerging" or "former"


@dataclass(frozen=True)
class ScoreParams:
    """Everything that decides a run's result; stored with it."""

    as_of: dt.date
    step: str = "week"
    n_steps: int | None = None
    k: int = 1
    alpha: float = 0.05
    correction: getis.Method = "fdr_bh"
    trend_alpha: float = 0.05
    share: float = 0.9
    weights: Weights = field(default_factory=Weights)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (the weights table included)."""
        out = dataclasses.asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["weights"] = self.weights.as_dict()
        return out

    def fingerprint(self) -> str:
        """A hash of everything but the as-of date: runs with equal fingerprints compare."""
        data = {k: v for k, v in self.as_dict().items() if k != "as_of"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class HotSpots:
    """One run's result for the support cells (cells with data and their neighbours)."""

    params: ScoreParams
    steps: Steps
    grid_size: int
    cells: np.ndarray
    parts: dict[str, np.ndarray]
    checksums: list[str]
    reused_steps: int
    values: np.ndarray
    z: np.ndarray
    p: np.ndarray
    sig: np.ndarray
    trend: trend.MannKendall
    category: np.ndarray
    label: np.ndarray
    current: np.ndarray
    concentration: pd.DataFrame
    background: pd.DataFrame
    wards: pd.DataFrame
    coverage: Coverage = field(default_factory=lambda: Coverage({}))
    asked_steps: int = 0


def events_for(inputs: ScoreInputs, steps: Steps, weights: Weights, *, key: str = "key",
               as_of: dt.date | None = None) -> pd.DataFrame:
    """Every weighted event of the inputs, keyed on ``key`` (``"key"`` cell or ``"ward_code"``)."""
    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        located = frame[frame[key].notna()] if key != "key" else frame
        return located.assign(key=located[key])

    places = keyed(inputs.places)
    parts = [report_events(keyed(inputs.reports), weights),
             incident_events(keyed(inputs.incidents), weights),
             place_events(places, inputs.history, steps, weights, as_of=as_of)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(EVENT_COLUMNS))
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Previous:
    """Gi* of an earlier run with the same parameters, for incremental re-scoring."""

    checksums: dict[str, str]  # step start (ISO) -> checksum of that step's input
    cells: np.ndarray
    z: np.ndarray
    p: np.ndarray
    starts: list[str]


def step_checksums(grid: np.ndarray, keys: np.ndarray, values: np.ndarray, steps: Steps,
                   k: int) -> list[str]:
    """One hash per step of everything Gi* reads for it: grid, k and the non-zero values.

    A cell that gains records only in later steps leaves the earlier steps' hashes alone.
    """
    base = hashlib.sha256(np.ascontiguousarray(grid, np.uint64).tobytes())
    base.update(str(k).encode())
    keys = np.ascontiguousarray(keys, np.uint64)
    out = []
    for t in range(len(steps)):
        column = values[:, t]
        nonzero = column != 0
        h = base.copy()
        h.update(keys[nonzero].tobytes())
        h.update(np.ascontiguousarray(column[nonzero]).tobytes())
        out.append(h.hexdigest())
    return out


def score_hotspots(inputs: ScoreInputs, params: ScoreParams, *,
                   previous: Previous | None = None) -> HotSpots:
    """Run the whole engine for one as-of date.

    With ``previous`` (an earlier run with the same `ScoreParams.fingerprint`), Gi* is
    computed only for the steps whose input changed; the other steps are taken from it. The
    result equals a full run. Only the steps inside the period the data covers are scored
    (`layers.hotspots.coverage`): steps before the first record are left out, not counted as quiet.
    `layers.hotspots.coverage.CoverageError` if fewer than three whole steps remain.
    """
    asked = make_steps(params.as_of, kind=params.step, count=params.n_steps)
    coverage = data_coverage(inputs.reports, inputs.incidents)
    steps = clip_steps(asked, coverage)
    check_steps(steps, coverage, asked=len(asked))
    cube = build_cube(events_for(inputs, steps, params.weights, as_of=params.as_of), steps)
    include = params.weights.include_patrol
    gi, reused = _gi_star(inputs.grid, cube.keys, cube.values(include_patrol=include), steps,
                          params.k, previous)
    sig = getis.significant(gi, alpha=params.alpha, method=params.correction)
    parts = {name: _align(cube.keys, part, gi.cells) for name, part in cube.parts.items()}
    values = _align(cube.keys, cube.values(include_patrol=include), gi.cells)
    factors = decay_factors(steps, as_of=params.as_of,
                            half_life_days=params.weights.half_life_days)
    mk = trend.mann_kendall(gi.z, alpha=params.trend_alpha) if len(gi.cells) else _no_trend()
    return HotSpots(
        params=params, steps=steps, grid_size=gi.n, cells=gi.cells, parts=parts,
        checksums=step_checksums(inputs.grid, cube.keys, cube.values(include_patrol=include),
                                 steps, params.k),
        reused_steps=reused,
        values=values, z=gi.z, p=gi.p, sig=sig, trend=mk,
        category=emerging.classify(gi.z, sig, share=params.share,
                                   trend_alpha=params.trend_alpha,
                                   trend=mk if len(gi.cells) else None),
        label=emerging.simple_labels(sig & (gi.z > 0), recent=recent_steps(len(steps))),
        current=values @ factors,
        concentration=concentration(cube.values(include_patrol=include), gi.n),
        background=_background(gi, params),
        wards=ward_summary(inputs, params, steps),
        coverage=coverage, asked_steps=len(asked),
    )


def recent_steps(n_steps: int) -> int:
    """How many final steps count as recent for the simple labels: 4, fewer in short runs.

    Examples
    --------
    >>> [recent_steps(n) for n in (3, 4, 5, 104)]
    [2, 3, 4, 4]
    """
    return max(1, min(RECENT_STEPS, n_steps - 1))


def _gi_star(grid: np.ndarray, keys: np.ndarray, values: np.ndarray, steps: Steps, k: int,
             previous: Previous | None) -> tuple[getis.GiStar, int]:
    """Gi* for every step, reusing ``previous`` for the steps whose input is unchanged."""
    sums = step_checksums(grid, keys, values, steps, k)
    old = previous.checksums if previous else {}
    keep = np.array([old.get(label) == c for label, c in zip(steps.labels, sums, strict=True)],
                    dtype=bool)
    if previous is None or not keep.any():
        return getis.gi_star(grid, keys, values, k=k), 0
    fresh = getis.gi_star(grid, keys, values[:, ~keep], k=k)
    n, cells = fresh.n, fresh.cells
    xbar, s = getis.moments(values, n)
    z = np.zeros((len(cells), len(steps)))
    p = np.ones_like(z)
    z[:, ~keep], p[:, ~keep] = fresh.z, fresh.p
    cols = np.flatnonzero(keep)
    prev_cols = [previous.starts.index(steps.labels[t]) for t in cols]
    pos = np.searchsorted(previous.cells, cells).clip(0, max(len(previous.cells) - 1, 0))
    known = previous.cells[pos] == cells if len(previous.cells) else np.zeros(len(cells), bool)
    z[np.ix_(known, cols)] = previous.z[np.ix_(pos[known], prev_cols)]
    p[np.ix_(known, cols)] = previous.p[np.ix_(pos[known], prev_cols)]
    if (~known).any():  # cells that were background then: lag 0
        w = getis.neighbour_counts(grid, k=k, cells=cells[~known])
        zb = getis.z_scores(np.zeros((len(w), len(cols))), w, xbar[cols], s[cols], n)
        z[np.ix_(~known, cols)] = zb
        p[np.ix_(~known, cols)] = getis.two_sided_p(zb)
    bz = getis.z_scores(np.zeros((len(fresh.background_w), len(steps))), fresh.background_w,
                        xbar, s, n)
    gi = dataclasses.replace(fresh, z=z, p=p, background_z=bz,
                             background_p=getis.two_sided_p(bz))
    return gi, int(keep.sum())


def _align(keys: np.ndarray, rows: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Rows of ``keys`` placed at the positions of ``cells`` (a superset); zeros elsewhere."""
    out = np.zeros((len(cells), rows.shape[1]))
    if len(keys):
        out[np.searchsorted(cells, keys)] = rows
    return out


def _no_trend() -> trend.MannKendall:
    empty = np.array([])
    return trend.MannKendall(empty, empty, empty, empty, empty, empty, empty,
                             np.array([], dtype=np.int8))


def _background(gi: getis.GiStar, params: ScoreParams) -> pd.DataFrame:
    """Categories of the empty cells far from data, one row per neighbourhood size."""
    if len(gi.background_w) == 0:
        return pd.DataFrame(columns=["w", "cells", "category"])
    sig = getis.background_significant(gi, alpha=params.alpha, method=params.correction)
    category = emerging.classify(gi.background_z, sig, share=params.share,
                                 trend_alpha=params.trend_alpha)
    return pd.DataFrame({"w": gi.background_w, "cells": gi.background_count,
                         "category": category})


def ward_summary(inputs: ScoreInputs, params: ScoreParams, steps: Steps) -> pd.DataFrame:
    """Per ward: current score, rank, Mann-Kendall trend of its step values, step series."""
    cube = build_cube(events_for(inputs, steps, params.weights, key="ward_code",
                                 as_of=params.as_of), steps)
    if len(cube.keys) == 0:
        return pd.DataFrame(columns=["ward_code", "current", "rank", "trend_z", "trend_p",
                                     "trend_slope", "trend", "series", "patrol_share"])
    values = cube.values(include_patrol=params.weights.include_patrol)
    factors = decay_factors(steps, as_of=params.as_of,
                            half_life_days=params.weights.half_life_days)
    current = values @ factors
    mk = trend.mann_kendall(values, alpha=params.trend_alpha)
    patrol = cube.parts[PATROL] @ factors
    frame = pd.DataFrame({
        "ward_code": cube.keys, "current": current,
        "trend_z": mk.z, "trend_p": mk.p, "trend_slope": mk.slope, "trend": mk.trend,
        "series": list(values), "patrol_share": np.divide(
            patrol, current + patrol, out=np.zeros_like(patrol), where=(current + patrol) > 0),
    })
    frame["rank"] = frame["current"].rank(ascending=False, method="min").astype(int)
    return frame.sort_values(["rank", "ward_code"], ignore_index=True)


def score_series(values: np.ndarray, steps: Steps, *, half_life_days: float,
                 as_of: dt.date | None = None) -> np.ndarray:
    """The decayed score as it stood at the end of every step (for "change since").

    The step holding ``as_of`` (the run's last) is scored at ``as_of``, as the current
    score is: the change since the as-of date itself is nothing.
    """
    out = np.zeros_like(values, dtype=float)
    for t in range(len(steps)):
        last = (steps.ends[t] - 1).astype(dt.date)
        if as_of is not None and last > as_of:
            last = as_of
        factors = decay_factors(Steps(steps.kind, steps.starts[:t + 1], steps.ends[:t + 1]),
                                as_of=last, half_life_days=half_life_days)
        out[:, t] = values[:, :t + 1] @ factors
    return out


__all__ = ["Cube", "HotSpots", "ScoreParams", "events_for", "score_hotspots", "score_series",
           "ward_summary"]
