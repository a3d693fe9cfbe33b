"""Disclosure control for the guardian view: the only figures volunteers may see.

Community guardian coordinators are volunteers, so their view follows the rules of
DOMAIN.md ("Disclosure control"). Everything here is a pure function over frames; the
caller reads the store.

Fixed grid
    H3 resolution 7 only (`GUARDIAN_RESOLUTION`, hexagons of about 5 km2). The cells listed
    are the given ``grid`` (the study area, every resolution-7 cell touching a loaded ward)
    plus any cell holding at least k places of concern, so that a listed but suppressed cell
    does not reveal that a place lies in it. Without a grid, the parents of every located
    place (protective and closed ones included) are listed.
Suppression
    A cell with fewer than k distinct places of concern (MACE levels 2-4, not closed) is
    not shown: ``shown`` is false and both bands are `NOT_SHOWN`, never a zero. k is 5 by
    default (`DEFAULT_K`); below `MIN_K` (3) is refused.
Bands
    Place counts are banded from k upwards at the edges `BANDS` (5, 10, 20): with k = 5,
    ``"5-9"``, ``"10-19"``, ``"20+"``; with k = 3, ``"3-4"`` comes first; with k = 12,
    ``"12-19"`` and ``"20+"``. The concern band is the sum of a scoring run's weighted
    values (reports, places and police.uk context, with the run's own weights) over the
    fixed period, banded at `CONCERN_BANDS`: ``"lower"`` below 10, ``"medium"`` 10 to
    under 30, ``"higher"`` 30 and over (with the default weights a level-4 report adds 4 and
    a level-4 place adds 1 a week). Only shown cells get one.
Fixed period
    Not the run's last 13 steps (a window sliding with every run, which two runs a week
    apart could difference) but the newest *complete* block of `PERIOD_WEEKS` weeks,
    counted in fixed blocks from Monday 5 January 1970 (`fixed_period`); calendar quarters
    for runs in monthly steps. Consecutive runs show the same block or the next, disjoint,
    one.
Protective places
    Level-1 places that are not closed and whose category is a public venue in
    `PROTECTIVE_CATEGORIES` (youth and leisure venues; parks, open spaces and sports
    grounds) are shown as points with a generic label for their category, never their
    imported name, which is free text. Level-1 places of other categories (a home, a shop,
    "other") are left out: a neutral association in a child's context may be a private
    address. Being public venues, their points are shown at 4 decimal places (about 10 m).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo import h3index
from layers.hotspots.cube import Steps

GUARDIAN_RESOLUTION = 7
MIN_K = 3
DEFAULT_K = 5
BANDS = (5, 10, 20)  # lower edges of the place-count bands (the first band starts at k)
CONCERN_BANDS = ((0.0, "lower"), (10.0, "medium"), (30.0, "higher"))
NOT_SHOWN = "not shown"
CONCERN_LEVELS = (2, 3, 4)
CLOSED = "closed"
PERIOD_WEEKS = 13
PERIOD_MONTHS = 3
WEEK_EPOCH = np.datetime64("1970-01-05", "D")  # a Monday
PROTECTIVE_CATEGORIES = {
    "youth_leisure_venue": "Youth or leisure venue",
    "park_open_space": "Park, open space or sports ground",
}
POINT_DECIMALS = 4
CELL_COLUMNS = ("h3_cell", "places_band", "concern_band", "shown")


class DisclosureError(ValueError):
    """An input or setting that the guardian view cannot be made safely from."""


def check_k(k: int) -> int:
    """Return the suppression threshold ``k`` if it is an integer of at least `MIN_K`.

    Examples
    --------
    >>> check_k(5)
    5
    >>> check_k(2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    layers.access.disclosure.DisclosureError: k must be an integer of at least 3 ..., got 2
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < MIN_K:
        msg = (f"k must be an integer of at least {MIN_K} (cells with fewer than k places "
               f"are suppressed), got {k!r}")
        raise DisclosureError(msg)
    return int(k)


def _edges(k: int) -> list[int]:
    return [k, *(e for e in BANDS if e > k)]


def band_labels(k: int = DEFAULT_K) -> list[str]:
    """The place-count bands of shown cells, lowest first.

    Examples
    --------
    >>> band_labels(5), band_labels(3), band_labels(12)
    (['5-9', '10-19', '20+'], ['3-4', '5-9', '10-19', '20+'], ['12-19', '20+'])
    """
    edges = _edges(check_k(k))
    labels = []
    for lo, nxt in zip(edges, [*edges[1:], None], strict=True):
        if nxt is None:
            labels.append(f"{lo}+")
        else:
            labels.append(f"{lo}-{nxt - 1}" if nxt - 1 > lo else str(lo))
    return labels


def count_bands(counts: np.ndarray, *, k: int = DEFAULT_K) -> np.ndarray:
    """Band place counts: `band_labels` for counts of at least k, `NOT_SHOWN` below.

    Examples
    --------
    >>> count_bands(np.array([0, 4, 5, 12, 40])).tolist()
    ['not shown', 'not shown', '5-9', '10-19', '20+']
    """
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(_edges(check_k(k)))
    labels = np.asarray([NOT_SHOWN, *band_labels(k)], dtype=object)
    return labels[np.searchsorted(edges, counts, side="right")]


def concern_bands(values: np.ndarray) -> np.ndarray:
    """Band summed concern values at `CONCERN_BANDS`.

    Examples
    --------
    >>> concern_bands(np.array([0.0, 9.9, 10.0, 45.0])).tolist()
    ['lower', 'lower', 'medium', 'higher']
    """
    values = np.asarray(values, dtype=float)
    edges = np.asarray([lo for lo, _ in CONCERN_BANDS])
    labels = np.asarray([name for _, name in CONCERN_BANDS], dtype=object)
    return labels[np.clip(np.searchsorted(edges, values, side="right") - 1, 0, None)]


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"{what} lacks column(s) {', '.join(missing)}; has {', '.join(map(str, frame))}"
        raise DisclosureError(msg)


def _parents(cells: Sequence[str] | np.ndarray, what: str) -> np.ndarray:
    """Resolution-7 parents (hex strings) of hex cells of resolution 7 or finer."""
    values = np.asarray(cells, dtype=object)
    if len(values) == 0:
        return np.array([], dtype=object)
    parsed = h3index.str_to_cells(values)
    for cell in pd.unique(values):
        if h3index.cell_resolution(str(cell)) < GUARDIAN_RESOLUTION:
            msg = (f"{what}: cell {cell} is coarser than resolution {GUARDIAN_RESOLUTION}; "
                   "cannot aggregate it to the guardian grid")
            raise DisclosureError(msg)
    parents = h3index.cells_to_parents(parsed, resolution=GUARDIAN_RESOLUTION)
    return h3index.cells_to_str(parents)


def _grid(grid: Sequence[str] | np.ndarray) -> np.ndarray:
    values = np.asarray(grid)
    if values.dtype != object and np.issubdtype(values.dtype, np.integer):
        values = h3index.cells_to_str(values.astype(np.uint64))
    for cell in pd.unique(values.astype(object)):
        if h3index.cell_resolution(str(cell)) != GUARDIAN_RESOLUTION:
            msg = f"grid: cell {cell} is not of resolution {GUARDIAN_RESOLUTION}"
            raise DisclosureError(msg)
    return values.astype(object)


def _concern_counts(places: pd.DataFrame) -> pd.Series:
    """Distinct places of concern (levels 2-4, not closed) per resolution-7 cell."""
    located = places[places["h3_cell"].notna()]
    status = located["status"].fillna("open").astype(str).str.lower()
    levels = pd.to_numeric(located["mace_level"], errors="coerce")
    concern = located[levels.isin(CONCERN_LEVELS).to_numpy() & (status != CLOSED).to_numpy()]
    parents = _parents(concern["h3_cell"].to_numpy(dtype=object), "places")
    ids = concern["id"].to_numpy() if "id" in concern else np.arange(len(concern))
    frame = pd.DataFrame({"cell": parents, "id": ids})
    return frame.groupby("cell")["id"].nunique()


def guardian_cells(places: pd.DataFrame, cell_values: pd.DataFrame | None = None, *,
                   k: int = DEFAULT_K, grid: Sequence[str] | np.ndarray | None = None
                   ) -> pd.DataFrame:
    """Banded, suppressed resolution-7 cells for the guardian view.

    Parameters
    ----------
    places
        Columns ``h3_cell`` (hex id, resolution 7 or finer; unlocated places have none),
        ``mace_level`` and ``status``; optionally ``id``, so that a place listed twice is
        counted once.
    cell_values
        Columns ``h3_cell`` (resolution 7 or finer) and ``value``: concern values summed
        over the fixed period (`period_values`); ``None`` for no concern band.
    k
        Suppress cells with fewer distinct places of concern; at least `MIN_K`.
    grid
        The fixed grid of resolution-7 cells (hex strings or ``uint64``) always listed, such
        as the study area; default the parents of every located place.

    Returns
    -------
    pandas.DataFrame
        Columns `CELL_COLUMNS`, sorted by cell: ``places_band`` and ``concern_band`` are
        `NOT_SHOWN` where ``shown`` is false; ``concern_band`` is ``None`` for shown cells
        without ``cell_values``.

    Raises
    ------
    DisclosureError
        If k is below `MIN_K`, a column is missing or a cell is coarser than resolution 7.
    """
    k = check_k(k)
    _require(places, ("h3_cell", "mace_level", "status"), "places")
    counts = _concern_counts(places)
    if grid is None:
        located = places["h3_cell"].dropna().to_numpy(dtype=object)
        listed = _parents(located, "places")
    else:
        listed = _grid(grid)
    keep = counts.index[counts.to_numpy() >= k].to_numpy(dtype=object)
    cells = np.unique(np.concatenate([listed, keep]).astype(str)).astype(object)
    n = counts.reindex(cells, fill_value=0).to_numpy(dtype=np.int64)
    shown = n >= k
    concern = np.full(len(cells), None, dtype=object)
    if cell_values is not None:
        _require(cell_values, ("h3_cell", "value"), "cell_values")
        parents = _parents(cell_values["h3_cell"].to_numpy(dtype=object), "cell_values")
        sums = (pd.Series(cell_values["value"].to_numpy(dtype=float)).groupby(parents).sum()
                .reindex(cells, fill_value=0.0).to_numpy(dtype=float))
        concern = concern_bands(sums)
    concern[~shown] = NOT_SHOWN
    columns = {"h3_cell": cells, "places_band": count_bands(n, k=k), "concern_band": concern}
    out = pd.DataFrame({name: pd.Series(v, dtype=object) for name, v in columns.items()})
    out["shown"] = shown
    return out


def protective_places(places: pd.DataFrame) -> pd.DataFrame:
    """Protective places: open level-1 places of `PROTECTIVE_CATEGORIES`, as points.

    Parameters
    ----------
    places
        Columns ``mace_level``, ``category``, ``status``, ``lat``, ``lng``. Names, addresses
        and notes are never read.

    Returns
    -------
    pandas.DataFrame
        Columns ``category``, ``label`` (generic, from `PROTECTIVE_CATEGORIES`), ``lat`` and
        ``lng`` rounded to `POINT_DECIMALS`; unlocated places are left out.
    """
    _require(places, ("mace_level", "category", "status", "lat", "lng"), "places")
    status = places["status"].fillna("open").astype(str).str.lower()
    levels = pd.to_numeric(places["mace_level"], errors="coerce")
    keep = ((levels == 1) & (status != CLOSED) & places["category"].isin(PROTECTIVE_CATEGORIES)
            & places["lat"].notna() & places["lng"].notna())
    chosen = places[keep.to_numpy()]
    category = chosen["category"].astype(str).to_numpy(dtype=object)
    return pd.DataFrame({
        "category": category,
        "label": [PROTECTIVE_CATEGORIES[c] for c in category],
        "lat": chosen["lat"].to_numpy(dtype=float).round(POINT_DECIMALS),
        "lng": chosen["lng"].to_numpy(dtype=float).round(POINT_DECIMALS),
    }).sort_values(["category", "lat", "lng"], ignore_index=True)


def fixed_period(steps: Steps, *, as_of: dt.date) -> slice | None:
    """The steps of the newest complete fixed period up to ``as_of``; ``None`` if none.

    Weekly steps fall in fixed blocks of `PERIOD_WEEKS` weeks counted from `WEEK_EPOCH`;
    monthly steps in calendar quarters. A block is complete when the run holds all its steps
    and the last one ends by ``as_of`` (inclusive), so a view never shows a growing period.

    Examples
    --------
    >>> from layers.hotspots.cube import make_steps
    >>> s = make_steps(dt.date(2025, 6, 30), kind="month", count=12)
    >>> period = fixed_period(s, as_of=dt.date(2025, 6, 30))
    >>> s.labels[period]
    ['2025-04-01', '2025-05-01', '2025-06-01']
    """
    if steps.kind == "week":
        ordinal = (steps.starts - WEEK_EPOCH).astype(np.int64) // 7
        size = PERIOD_WEEKS
    else:
        ordinal = steps.starts.astype("datetime64[M]").astype(np.int64)
        size = PERIOD_MONTHS
    block = ordinal // size
    complete = steps.ends <= np.datetime64(as_of, "D") + 1
    for b in np.unique(block[complete])[::-1]:
        index = np.flatnonzero((block == b) & complete)
        if len(index) == size:
            return slice(int(index[0]), int(index[-1]) + 1)
    return None


def period_values(cells: Sequence[str] | np.ndarray, series: np.ndarray,
                  period: slice) -> pd.DataFrame:
    """Sum each cell's step values over ``period``.

    Parameters
    ----------
    cells
        Hex cell ids, one per row of ``series``.
    series
        ``(len(cells), steps)`` values per step, such as a run's ``values_series``.
    period
        The steps to sum (`fixed_period`).

    Returns
    -------
    pandas.DataFrame
        Columns ``h3_cell`` and ``value``, for `guardian_cells`.
    """
    values = np.asarray(series, dtype=float)
    values = values.reshape(len(cells), -1) if values.size else np.zeros((len(cells), 0))
    return pd.DataFrame({"h3_cell": np.asarray(cells, dtype=object),
                         "value": values[:, period].sum(axis=1)})
