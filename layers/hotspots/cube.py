"""The space-time cube: weighted values per H3 cell (or ward) per time step.

Everything that adds to a score becomes an *event*: a weight on a cell over a span of days.
A concern report is one day; a police.uk incident is spread evenly over the days of its
month (police.uk gives months only); a place adds the weight of its MACE level to every step
that ends while that level is in force. The cube sums events into steps (weeks starting on
Monday, or calendar months) and keeps one array per source, so every value can be explained.

Sparse by construction: rows exist only for cells with at least one event, so memory grows
with the cells that have data, not with the whole grid times all steps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

SOURCES = ("reports", "incidents", "places")
PATROL = "patrol"  # the source of records discovered by patrols, kept apart
STEP_KINDS = ("week", "month")
DEFAULT_STEPS = {"week": 104, "month": 24}

EVENT_SOURCES = (*SOURCES, PATROL)
EVENT_COLUMNS = ("key", "start", "days", "weight", "source", "kind", "record")


@dataclass(frozen=True)
class Steps:
    """Consecutive time steps: ``starts[t] <= day < ends[t]``; the last one holds ``as_of``."""

    kind: str
    starts: np.ndarray  # datetime64[D]
    ends: np.ndarray  # datetime64[D], exclusive

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def labels(self) -> list[str]:
        """ISO start dates, one per step."""
        return [str(d) for d in self.starts]


def make_steps(as_of: dt.date, *, kind: str = "week", count: int | None = None) -> Steps:
    """The ``count`` steps ending with the one that contains ``as_of``.

    Examples
    --------
    >>> s = make_steps(dt.date(2025, 3, 5), kind="week", count=2)
    >>> s.labels, str(s.ends[-1])
    (['2025-02-24', '2025-03-03'], '2025-03-10')
    >>> make_steps(dt.date(2025, 3, 5), kind="month", count=2).labels
    ['2025-02-01', '2025-03-01']
    """
    if kind not in STEP_KINDS:
        msg = f"step must be one of {', '.join(STEP_KINDS)}, got {kind!r}"
        raise ValueError(msg)
    count = count or DEFAULT_STEPS[kind]
    if count < 1:
        msg = f"need at least one step, got {count}"
        raise ValueError(msg)
    day = np.datetime64(as_of, "D")
    if kind == "week":
        monday = day - ((day.astype("datetime64[D]").view("int64") - 4) % 7)  # 1970-01-05 Mon
        starts = monday - np.arange(count - 1, -1, -1) * 7
        ends = starts + 7
    else:
        month = day.astype("datetime64[M]")
        first = month - np.arange(count - 1, -1, -1)
        starts = first.astype("datetime64[D]")
        ends = (first + 1).astype("datetime64[D]")
    return Steps(kind, starts.astype("datetime64[D]"), ends.astype("datetime64[D]"))


@dataclass(frozen=True)
class Cube:
    """Values per key (H3 cell or ward) per step, one array per source.

    Attributes
    ----------
    steps
        The time steps (columns).
    keys
        Sorted keys with at least one event (rows).
    parts
        Source name -> ``(len(keys), len(steps))`` array; `PATROL` holds the records
        discovered by patrols, which the default score leaves out.
    """

    steps: Steps
    keys: np.ndarray
    parts: dict[str, np.ndarray]

    def values(self, *, include_patrol: bool = False) -> np.ndarray:
        """The score values: the sum of the sources (and patrol records if asked)."""
        total = np.zeros((len(self.keys), len(self.steps)))
        for source, part in self.parts.items():
            if source != PATROL or include_patrol:
                total += part
        return total


def build_cube(events: pd.DataFrame, steps: Steps) -> Cube:
    """Sum events into steps.

    Parameters
    ----------
    events
        Columns `EVENT_COLUMNS`: ``key`` (cell or ward), ``start`` (first day), ``days``
        (span length >= 1, weight spread evenly over it), ``weight``, ``source`` (one of
        `SOURCES` or `PATROL`, ideally categorical), ``kind`` (``report``, ``incident`` or
        ``place``) and ``record`` (its id), for explanations.
    steps
        The time steps; events outside them are ignored.
    """
    if not len(events):
        empty = np.zeros((0, len(steps)))
        return Cube(steps, np.array([], np.uint64), {s: empty for s in EVENT_SOURCES})
    codes, distinct = pd.factorize(events["key"].to_numpy())  # hashing: faster than a sort
    order = np.argsort(distinct)
    keys = np.asarray(distinct)[order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    key_index = rank[codes]
    source = events["source"]
    source_index = (source.cat.codes.to_numpy() if isinstance(source.dtype, pd.CategoricalDtype)
                    and tuple(source.cat.categories) == EVENT_SOURCES
                    else pd.Categorical(source, categories=EVENT_SOURCES).codes)
    row, col, share = spread(events, steps)
    size = len(keys) * len(steps)
    flat = key_index[row] * len(steps) + col
    parts = {}
    for code, name in enumerate(EVENT_SOURCES):
        mine = source_index[row] == code
        parts[name] = np.bincount(flat[mine], weights=share[mine], minlength=size).reshape(
            len(keys), len(steps))
    return Cube(steps, keys, parts)


def rollup(cube: Cube, parents: np.ndarray) -> Cube:
    """Sum the rows of ``cube`` into ``parents`` (one parent key per row of ``cube.keys``).

    Use `geo.h3index.cells_to_parents` for coarser H3 resolutions (8, 7), or a ward code
    per cell for wards.
    """
    keys, inverse = np.unique(np.asarray(parents), return_inverse=True)
    parts = {}
    for name, part in cube.parts.items():
        rolled = np.zeros((len(keys), len(cube.steps)))
        np.add.at(rolled, inverse, part)
        parts[name] = rolled
    return Cube(cube.steps, keys, parts)


def spread(events: pd.DataFrame, steps: Steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each event's weight over the steps its span overlaps, by days of overlap.

    Returns ``(event row, step column, weight share)`` for every overlap.
    """
    start = events["start"].to_numpy().astype("datetime64[D]")
    days = events["days"].to_numpy().astype(np.int64)
    weight = events["weight"].to_numpy(float)
    if (days == 1).all():  # one-day events (reports, place levels): no splitting needed
        col = np.searchsorted(steps.ends, start, side="right")
        keep = (col < len(steps)) & (start >= steps.starts[0])
        return np.flatnonzero(keep), col[keep], weight[keep]
    end = start + days
    first = np.searchsorted(steps.ends, start, side="right")
    last = np.searchsorted(steps.starts, end - 1, side="right") - 1
    count = np.clip(last - first + 1, 0, None)
    row = np.repeat(np.arange(len(events)), count)
    col = np.repeat(first, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count,
                                                                       count))
    lo = np.maximum(start[row], steps.starts[col])
    hi = np.minimum(end[row], steps.ends[col])
    overlap = (hi - lo).astype(np.int64)
    share = weight[row] * overlap / days[row]
    keep = overlap > 0
    return row[keep], col[keep], share[keep]


def decay_factors(steps: Steps, *, as_of: dt.date, half_life_days: float
                  ) -> npt.NDArray[np.float64]:
    """The weight each step keeps at ``as_of``: halving every ``half_life_days`` of age.

    A step's age is counted from its middle day (the part up to ``as_of`` for the step that
    holds it). The current score of a cell is its step values times these factors, and a
    record's contribution is its weight times the factor of its step.

    Examples
    --------
    >>> s = make_steps(dt.date(2025, 3, 9), kind="week", count=3)  # ends on a Sunday
    >>> decay_factors(s, as_of=dt.date(2025, 3, 9), half_life_days=7).round(3).tolist()
    [0.186, 0.371, 0.743]
    """
    day = np.datetime64(as_of, "D")
    last = np.minimum(steps.ends - 1, day)
    middle = steps.starts.astype("datetime64[h]") + (
        (last - steps.starts).astype(np.int64) * 12).astype("timedelta64[h]")
    age: npt.NDArray[np.float64] = (day.astype("datetime64[h]") - middle).astype(float) / 24.0
    return 0.5 ** (np.maximum(age, 0.0) / half_life_days)
