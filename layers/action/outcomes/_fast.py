"""Plumbing for `measures.outcome_table`: the per-plan work as integer array operations.

`measures.choose_areas` and `measures.count_windows`
are the readable rules; this module computes the same areas and sums for many plans at once, and
must agree with them exactly (tests/layers/test_outcomes.py checks it).

Every cell is numbered by its position in one sorted index of hex ids, the *universe*:
candidate cells, event cells and every cell near an activity. Sorted positions are therefore
sorted ids, so "ties to the lower cell id" is a stable sort over positions. Events whose cell
is missing get the extra position ``len(universe)``, which is in no area.

Floating-point sums are taken in the same order as the reference, so they agree to the bit.
The one place where order cannot be copied cheaply is the per-cell level that controls are
matched on (a pandas ``groupby(...).sum()``, whose algorithm depends on the pandas version):
when every value is a small multiple of a power of two every order gives the exact sum and a
``bincount`` is used; otherwise the level is computed with the same pandas call as the
reference, on the window's rows only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo import h3index

_EXACT_BITS = 52  # sums up to 2**52 units of the finest weight step are exact in float64


class AreaCells(NamedTuple):
    """Universe positions of the four areas; target and buffer sorted (sorted ids)."""

    target: np.ndarray
    buffer: np.ndarray
    control: np.ndarray
    buffer_control: np.ndarray


def exact_sums(values: np.ndarray) -> bool:
    """Whether every partial sum of ``values``, in any order, is exact in float64.

    True when all values are multiples of ``2**-m`` for some ``m <= 10`` and the total is
    below ``2**52`` such units: the integer counts and MACE-level weights.
    """
    values = np.asarray(values, dtype=np.float64)
    total = float(np.abs(values).sum())
    if not np.isfinite(total):
        return False
    for m in range(11):
        unit = 2.0**m
        if total * unit > 2.0**_EXACT_BITS:
            return False
        scaled = values * unit
        if np.array_equal(scaled, np.floor(scaled)):
            return True
    return False


def _mean(values: np.ndarray) -> float:
    """Mean as pandas takes it (numpy's pairwise sum over the count), NaN when empty."""
    return float(values.sum() / len(values)) if len(values) else float("nan")


def _closest(pool: np.ndarray, levels: np.ndarray, level: float, n: int) -> np.ndarray:
    """`measures._closest` over positions: ``pool`` sorted, stable on distance."""
    order = np.argsort(np.abs(levels[pool] - level), kind="stable")[:n]
    return pool[order]


def _split(origin: np.ndarray, values: npt.NDArray[np.intp], n: int
           ) -> list[npt.NDArray[np.intp]]:
    """``values`` grouped by ``origin`` (sorted, 0..n-1), each group sorted and unique."""
    bounds = np.searchsorted(origin, np.arange(n + 1))
    return [np.unique(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class CellSpace:
    """The universe of cells, activity neighbourhoods and candidate cells per ward.

    Parameters
    ----------
    activity_cells
        Every activity cell id as given (raw strings); invalid ones are remembered, not raised.
    candidates
        ``h3_cell`` (canonical ids) and ``ward_code``, optionally ``authority_code`` (a small
        ward's controls then stay in its authority).
    event_cells
        Uniques of the events' ``h3_cell`` (strings; missing values dropped).
    rings
        Grid distances of the target, the buffer and the exclusion zone.
    """

    def __init__(self, activity_cells: np.ndarray, candidates: pd.DataFrame,
                 event_cells: np.ndarray, *, rings: tuple[int, int, int]) -> None:
        raw = pd.unique(pd.Series(activity_cells, dtype=object))
        parsed = _parse_each(raw)
        valid = np.array([p is not None for p in parsed], dtype=bool)
        centres = np.unique(np.array([p for p in parsed if p is not None], dtype=np.uint64))
        where = np.searchsorted(centres, np.array([p for p in parsed if p is not None],
                                                  dtype=np.uint64))
        self._centre_of: dict[object, int] = dict(zip(raw[valid].tolist(), where.tolist(),
                                                      strict=True))
        disks = [h3index.grid_disks(centres, k=k) for k in rings]
        disk_ids = [h3index.cells_to_str(neighbour) for _, neighbour in disks]
        ids = np.unique(np.concatenate([
            candidates["h3_cell"].to_numpy(dtype=object), np.asarray(event_cells, dtype=object),
            h3index.cells_to_str(centres), *disk_ids]))
        self.ids = pd.Index(ids, dtype=object)
        self.size = len(ids)
        self._centre_pos = self.ids.get_indexer(h3index.cells_to_str(centres))
        self._disks = [_split(origin, self.ids.get_indexer(cells), len(centres))
                       for (origin, _), cells in zip(disks, disk_ids, strict=True)]
        self._candidates(candidates)

    def _candidates(self, candidates: pd.DataFrame) -> None:
        ward, _ = pd.factorize(candidates["ward_code"])
        pos = self.ids.get_indexer(candidates["h3_cell"].to_numpy(dtype=object))
        keep = ward >= 0
        pos, ward = pos[keep], ward[keep]
        order = np.lexsort((ward, pos))
        self._pair_pos, self._pair_ward = pos[order], ward[order]
        by_ward = np.lexsort((pos, ward))
        n_wards = int(ward.max()) + 1 if len(ward) else 0
        self._pools = _split(ward[by_ward], pos[by_ward], n_wards)
        self._authority = np.zeros(n_wards, dtype=np.int64)  # one authority, unless named
        if "authority_code" in candidates.columns and n_wards:
            authority, _ = pd.factorize(candidates["authority_code"])
            self._authority[ward] = authority[keep]  # a ward lies in one authority

    def centres(self, cells: list[object]) -> np.ndarray | None:
        """Indices of the distinct centre cells of a plan; None if one is not a valid cell."""
        found = [self._centre_of.get(cell) for cell in cells]
        if not found or any(f is None for f in found):
            return None
        return np.unique(np.array(found, dtype=np.int64))

    def _disk(self, ring: int, centre: np.ndarray) -> np.ndarray:
        parts = self._disks[ring]
        if len(centre) == 1:
            return parts[int(centre[0])]
        return np.unique(np.concatenate([parts[int(c)] for c in centre]))

    def _wards(self, positions: np.ndarray) -> np.ndarray:
        lo = np.searchsorted(self._pair_pos, positions, "left")
        hi = np.searchsorted(self._pair_pos, positions, "right")
        found = [self._pair_ward[a:b] for a, b in zip(lo, hi, strict=True) if b > a]
        return np.unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)

    def _pool(self, wards: np.ndarray, near: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        pool: npt.NDArray[np.intp]
        if len(wards) == 1:
            pool = self._pools[int(wards[0])]
        else:
            pool = np.unique(np.concatenate([self._pools[int(w)] for w in wards]))
        excluded = np.zeros(self.size + 1, dtype=bool)
        excluded[near] = True
        return pool[~excluded[pool]]

    def areas(self, centre: np.ndarray, levels: np.ndarray,
              n_control: int | None) -> AreaCells | None:
        """The areas of `measures.choose_areas`; None where it would raise."""
        target, near = self._disk(0, centre), self._disk(1, centre)
        in_target = np.zeros(self.size + 1, dtype=bool)
        in_target[target] = True
        buffer = near[~in_target[near]]
        wards = self._wards(self._centre_pos[centre])
        if len(wards) == 0:
            wards = self._wards(target)
        if len(wards) == 0:
            return None
        pool = self._pool(wards, self._disk(2, centre))
        if len(pool) == 0 and len(self._pools):  # a small ward: its authority
            mine = self._authority[wards]
            same = np.flatnonzero(np.isin(self._authority, mine[mine >= 0]))
            pool = self._pool(same, self._disk(2, centre))
        if len(pool) == 0:
            return None
        n = len(target) if n_control is None else n_control
        control = _closest(pool, levels, _mean(levels[target]), n)
        chosen = np.zeros(self.size + 1, dtype=bool)
        chosen[control] = True
        rest = pool[~chosen[pool]]
        buffer_control = _closest(rest, levels, _mean(levels[buffer]), len(buffer))
        return AreaCells(target, buffer, control, buffer_control)

    def area_codes(self, areas: AreaCells) -> np.ndarray:
        """0-3 per universe position (and the missing-cell slot) by area, -1 for none."""
        code = np.full(self.size + 1, -1, dtype=np.int64)
        for i, cells in enumerate(areas):
            code[cells] = i
        return code


def _parse_each(raw: np.ndarray) -> list[int | None]:
    """Each id as a ``uint64`` cell, or None where `geo.h3index.str_to_cells` rejects it."""
    try:
        return [int(c) for c in h3index.str_to_cells(raw)]
    except h3index.H3Error:
        pass
    out: list[int | None] = []
    for cell in raw:
        try:
            out.append(int(h3index.str_to_cells([cell])[0]))
        except (h3index.H3Error, TypeError, ValueError):
            out.append(None)
    return out


class EventWindows:
    """Events sorted by day, to pick the rows of a window without scanning them all.

    Parameters
    ----------
    day
        ``datetime64[D]`` per event (NaT for none: such events are in no window).
    pos
        Universe position of each event's cell (``CellSpace.size`` when missing).
    values
        Arrays summed per area and window (counts: ones; weighted: weight and weight**2).
    levels, cells
        What controls are matched on per event, as the reference sums it (a Series with the
        events' index), and the events' ``h3_cell`` Series it is grouped by when the sums
        are not exact.
    size
        ``CellSpace.size``.
    ids
        ``CellSpace.ids``, to place pandas' per-cell sums.
    """

    def __init__(self, day: np.ndarray, pos: np.ndarray, values: list[np.ndarray], *,
                 levels: pd.Series, cells: pd.Series, size: int, ids: pd.Index) -> None:
        day = np.asarray(day).astype("datetime64[D]")
        valid = ~np.isnat(day)
        self._day = np.where(valid, day.astype(np.int64), 0)
        rows = np.flatnonzero(valid)
        order = np.argsort(self._day[rows], kind="stable")
        self._order, self._sorted = rows[order], self._day[rows][order]
        self._pos, self._values, self._size, self._ids = pos, values, size, ids
        self._level_series, self._cells = levels, cells
        level_values = levels.to_numpy()
        self._exact = (level_values.dtype.kind in "fiu" and level_values.dtype.itemsize == 8
                       and exact_sums(level_values))
        self._level_values = level_values.astype(np.float64) if self._exact else None

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Row numbers, ascending, of the events with ``lo <= day < hi`` (day numbers)."""
        a, b = np.searchsorted(self._sorted, [lo, hi])
        return np.sort(self._order[a:b])

    def any(self, lo: int, hi: int) -> bool:
        """Whether any event has ``lo <= day < hi``."""
        a, b = np.searchsorted(self._sorted, [lo, hi])
        return bool(b > a)

    def levels(self, lo: int, hi: int) -> np.ndarray:
        """Per position, the sum of the level values of the events in ``[lo, hi)``."""
        rows = self.rows(lo, hi)
        if self._level_values is not None:
            return np.bincount(self._pos[rows], weights=self._level_values[rows],
                               minlength=self._size + 1)
        sums = self._level_series.iloc[rows].groupby(self._cells.iloc[rows]).sum()
        out = np.zeros(self._size + 1)
        where = self._ids.get_indexer(sums.index)  # every event's cell id is in the universe
        out[where] = sums.to_numpy(dtype=np.float64)
        return out

    def sums(self, code: np.ndarray, start: int, days: int) -> list[np.ndarray]:
        """Eight sums of each of ``values``, slot ``area * 2 + after``, in row order."""
        rows = self.rows(start - days, start + days)
        area = code[self._pos[rows]]
        keep = area >= 0
        rows = rows[keep]
        slot = area[keep] * 2 + (self._day[rows] >= start)
        return [np.bincount(slot, weights=v[rows], minlength=8) for v in self._values]


class PlanSums(NamedTuple):
    """What `measures` needs of one plan: area sizes, the matching window, the sums."""

    target_cells: int
    control_cells: int
    prior: bool  # controls matched on the window before the before window
    sums: list[np.ndarray]  # per array of values, eight sums in `COUNT_FIELDS` order


class Prepared(NamedTuple):
    """Cells and events indexed once per `measures.outcome_table` call."""

    space: CellSpace
    windows: EventWindows
    days: int

    def plan(self, cells: list[object], first: int, *, n_control: int | None
             ) -> PlanSums | None:
        """Areas and sums of a plan starting on day number ``first``.

        None where the reference raises (invalid cell, no ward, no control candidate).
        """
        centre = self.space.centres(cells)
        if centre is None:
            return None
        days = self.days
        prior = self.windows.any(first - 2 * days, first - days)
        lo = first - (2 if prior else 1) * days
        areas = self.space.areas(centre, self.windows.levels(lo, lo + days), n_control)
        if areas is None:
            return None
        sums = self.windows.sums(self.space.area_codes(areas), first, days)
        return PlanSums(len(areas.target), len(areas.control), prior, sums)


def prepare(plan_cells: list[object], events: pd.DataFrame, candidates: pd.DataFrame, *,
            days: object, weighted: bool, rings: tuple[int, int, int]) -> Prepared | None:
    """Index cells and events for `Prepared.plan`; None when an input is off.

    Off means a check of the reference fails at the first plan (days, columns, weights) or an
    event's cell id is not a string: the caller then runs the reference for every plan, which
    raises exactly what it always did. ``events["day"]`` must already be ``datetime64``.
    """
    if (isinstance(days, bool) or not isinstance(days, int) or days < 1
            or "h3_cell" not in events.columns or "ward_code" not in candidates.columns):
        return None
    if weighted:
        weight = _weights(events)
        if weight is None:
            return None
        values, levels = [weight, weight**2], events["weight"]
    else:
        values, levels = [np.ones(len(events))], pd.Series(1.0, index=events.index)
    codes, uniques = pd.factorize(events["h3_cell"])
    if pd.api.types.infer_dtype(uniques, skipna=True) not in ("string", "empty"):
        return None
    uniques = np.asarray(uniques, dtype=object)
    space = CellSpace(np.array(plan_cells, dtype=object), candidates, uniques, rings=rings)
    pos = np.append(space.ids.get_indexer(uniques), space.size)[codes]  # code -1: no cell
    windows = EventWindows(events["day"].to_numpy(), pos, values, levels=levels,
                           cells=events["h3_cell"], size=space.size, ids=space.ids)
    return Prepared(space, windows, days)


def _weights(events: pd.DataFrame) -> np.ndarray | None:
    """The weights as `measures.weighted_counts` reads them; None if it raises."""
    if "weight" not in events.columns:
        return None
    try:
        weight = events["weight"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return weight if bool((np.isfinite(weight) & (weight >= 0)).all()) else None
