"""Getis-Ord Gi* hot spots for every cell of an H3 study grid at every time step.

The statistic is the one in DOMAIN.md ("Hot spot statistics"): for cell ``i`` with binary
weights over ``grid_disk(i, k)`` restricted to the grid (the cell itself included),

    z_i = (sum_j w_ij x_j - xbar W_i) / (s sqrt((n W_i - W_i^2) / (n - 1)))

with ``W_i`` the number of grid cells within ``k`` steps of ``i`` (``S1_i = W_i`` for binary
weights), and ``xbar``, ``s`` (population standard deviation) over all ``n`` grid cells at that
step. For steps with a positive mean this equals
``esda.G_Local(y, w, transform="B", star=True).Zs``; esda divides by the mean, so it returns
NaN where every value is zero and flips the sign where the mean is negative.

Data are sparse: a few thousand cells with records in a grid that may be much larger. Only
the *support* (the data cells and the grid cells within ``k`` of one) can have a non-zero
spatial lag. Every other grid cell has lag 0, so its z depends only on its ``W_i``: those
*background* cells are kept as one row per distinct ``W_i`` with a count, and memory grows
with the data, not with grid x steps.

Conventions
-----------
- A step whose values are all equal (``s == 0``, including a step with no data at all) gives
  ``z = 0`` and ``p = 1`` for every cell; so does a cell whose neighbourhood is the whole grid
  (``W_i == n``), where the formula is 0/0.
- p-values are two-sided from the standard normal.
- Multiple testing is per time step over the whole grid (all ``n`` cells, background cells
  with their multiplicities). Benjamini-Hochberg follows `esda.fdr`: with p sorted ascending,
  ``k* = max{i : p_(i) < i alpha / n}`` and a cell is significant when
  ``p < k* alpha / n`` (``alpha / n`` when there is no such ``i``). This is BH 1995 except
  that the comparison is strict, which matters only on exact equality. Holm is the step-down
  rule rejecting ``p_(i) <= alpha / (n - i + 1)`` until the first failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import ndtr

from geo.h3index import grid_disks

Method = Literal["fdr_bh", "holm", "none"]
METHODS: tuple[str, ...] = ("fdr_bh", "holm", "none")
_CHUNK_PAIRS = 1 << 21  # neighbour pairs per grid_disks call in `neighbour_counts`


@dataclass(frozen=True)
class GiStar:
    """Gi* z and p for the support cells, plus the background cells grouped by ``W``.

    Attributes
    ----------
    cells
        Sorted ``uint64`` support cells: data cells and grid cells within ``k`` of one.
    z, p
        ``(len(cells), T)`` z-scores and two-sided p-values.
    n
        Number of grid cells (the size of every step's test family).
    background_w
        ``(G,)`` sorted distinct neighbourhood sizes ``W`` of the other grid cells.
    background_count
        ``(G,)`` how many background cells have that ``W``.
    background_z, background_p
        ``(G, T)`` z and p shared by every background cell of the group.
    k
        The grid distance used.
    """

    cells: np.ndarray
    z: np.ndarray
    p: np.ndarray
    n: int
    background_w: np.ndarray
    background_count: np.ndarray
    background_z: np.ndarray
    background_p: np.ndarray
    k: int = 1

    @property
    def steps(self) -> int:
        """Number of time steps ``T``."""
        return int(self.z.shape[1])


def neighbour_counts(grid: np.ndarray, *, k: int = 1, cells: np.ndarray | None = None
                     ) -> np.ndarray:
    """Count the grid cells within ``k`` steps of each cell, itself included.

    Parameters
    ----------
    grid
        Sorted unique ``uint64`` cells of the study area.
    k
        Grid distance.
    cells
        ``uint64`` cells to count for (need not be in the grid); default the grid itself.

    Returns
    -------
    numpy.ndarray
        ``int64`` ``W_i`` per cell. Works in chunks, so memory stays bounded for large grids.
    """
    grid = np.asarray(grid, dtype=np.uint64)
    cells = grid if cells is None else np.asarray(cells, dtype=np.uint64)
    counts = np.zeros(len(cells), dtype=np.int64)
    disk = 3 * int(k) * (int(k) + 1) + 1  # cells in a disk away from pentagons
    chunk = max(1, _CHUNK_PAIRS // max(disk, 1))
    for start in range(0, len(cells), chunk):
        part = cells[start:start + chunk]
        origin, neighbour = grid_disks(part, k=k)
        counts[start:start + len(part)] = np.bincount(origin[_member(grid, neighbour)],
                                                      minlength=len(part))
    return counts


def gi_star(grid: np.ndarray, cells: np.ndarray, values: np.ndarray | sp.sparray | sp.spmatrix,
            *, k: int = 1) -> GiStar:
    """Compute Getis-Ord Gi* for every grid cell at every step, from sparse data.

    Parameters
    ----------
    grid
        Sorted unique ``uint64`` H3 cells of the study area; cells without data count as 0.
    cells
        Unique ``uint64`` cells with data, all in ``grid``.
    values
        ``(len(cells), T)`` values per data cell and step, dense or scipy.sparse.
    k
        Neighbourhood ``grid_disk(cell, k)`` restricted to the grid, binary weights.

    Returns
    -------
    GiStar
        z and p for the support cells and, grouped by ``W``, for all other grid cells.

    Raises
    ------
    ValueError
        If the grid is not sorted and unique, a data cell is repeated or outside the grid,
        or the values are not a finite ``(len(cells), T)`` array.

    Examples
    --------
    >>> from geo.h3index import grid_disks, str_to_cells
    >>> grid = np.sort(grid_disks(str_to_cells(["89194655863ffff"]), k=2)[1])
    >>> hot = str_to_cells(["89194655863ffff"])
    >>> result = gi_star(grid, hot, np.array([[5.0]]), k=1)
    >>> len(result.cells), result.n, result.background_w.tolist(), result.background_count.tolist()
    (7, 19, [4, 5], [6, 6])
    >>> round(float(result.z[result.cells == hot[0]][0, 0]), 4)
    1.3093
    """
    grid, cells, x = _check_inputs(grid, cells, values)
    n, steps = len(grid), x.shape[1]
    origin, neighbour = grid_disks(cells, k=k)
    inside = _member(grid, neighbour)
    origin, neighbour = origin[inside], neighbour[inside]
    support = np.unique(neighbour)
    lag_matrix = sp.csr_array(
        (np.ones(len(origin)), (np.searchsorted(support, neighbour), origin)),
        shape=(len(support), len(cells)))
    lag = np.asarray(lag_matrix @ x)
    xbar, s = moments(x, n)
    w_all = neighbour_counts(grid, k=k)
    in_support = np.zeros(n, dtype=bool)
    in_support[np.searchsorted(grid, support)] = True
    z = z_scores(lag, w_all[in_support], xbar, s, n)
    bg_w, bg_count = np.unique(w_all[~in_support], return_counts=True)
    bg_z = z_scores(np.zeros((len(bg_w), steps)), bg_w, xbar, s, n)
    return GiStar(cells=support, z=z, p=two_sided_p(z), n=n, background_w=bg_w,
                  background_count=bg_count.astype(np.int64), background_z=bg_z,
                  background_p=two_sided_p(bg_z), k=int(k))


def p_threshold(result: GiStar, *, alpha: float = 0.05, method: Method = "fdr_bh"
                ) -> np.ndarray:
    """Per-step p cut-off: a cell is significant at step ``t`` when ``p < threshold[t]``.

    Parameters
    ----------
    result
        A `gi_star` result.
    alpha
        Family-wise error rate (Holm), false discovery rate (BH) or per-test level (none).
    method
        ``"fdr_bh"`` (Benjamini-Hochberg as in `esda.fdr`), ``"holm"`` or ``"none"``.

    Returns
    -------
    numpy.ndarray
        ``(T,)`` thresholds; the family is all ``n`` grid cells of the step.
    """
    if method not in METHODS:
        msg = f"method must be one of {list(METHODS)}, got {method!r}"
        raise ValueError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha must be between 0 and 1, got {alpha!r}"
        raise ValueError(msg)
    if method == "none":
        return np.full(result.steps, float(alpha))
    step, p, first_rank, last_rank = _ranked_candidates(result, alpha)
    if method == "fdr_bh":
        threshold = np.full(result.steps, alpha / result.n)
        cut = last_rank * alpha / result.n  # a row's best BH cut is at its highest rank
        ok = p < cut
        np.maximum.at(threshold, step[ok], cut[ok])
        return threshold
    # Holm stops at the first failure; failing on a row's lowest rank fails the whole row.
    threshold = np.full(result.steps, np.nextafter(alpha, np.inf))  # no failure: p <= alpha
    fail = p > alpha / (result.n - first_rank + 1)
    np.minimum.at(threshold, step[fail], p[fail])
    return threshold


def _ranked_candidates(result: GiStar, alpha: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rank the ``p <= alpha`` rows of every step within the step's whole-grid family.

    No p-value above ``alpha`` can be rejected by BH or Holm, nor precede one that can, so
    only these candidates are sorted. A background group of ``c`` cells with equal p holds
    ranks ``first_rank .. last_rank`` (``c`` of them).

    Returns
    -------
    step, p, first_rank, last_rank
        One entry per candidate, sorted by step, then p.
    """
    p_all = np.vstack([result.p, result.background_p])
    weight = np.concatenate([np.ones(len(result.cells), dtype=np.int64),
                             np.asarray(result.background_count, dtype=np.int64)])
    row, step = np.nonzero(p_all <= alpha)
    p = p_all[row, step]
    order = np.lexsort((p, step))
    row, step, p = row[order], step[order], p[order]
    count = weight[row]
    before = np.cumsum(count) - count
    last_rank = before - before[np.searchsorted(step, step)] + count
    return step, p, last_rank - count + 1, last_rank


def significant(result: GiStar, *, alpha: float = 0.05, method: Method = "fdr_bh"
                ) -> np.ndarray:
    """Return the ``(len(result.cells), T)`` significance of the support cells.

    The multiple-testing family of each step is the whole grid; see `p_threshold`.
    """
    return result.p < p_threshold(result, alpha=alpha, method=method)


def background_significant(result: GiStar, *, alpha: float = 0.05,
                           method: Method = "fdr_bh") -> np.ndarray:
    """Return the ``(G, T)`` significance of each background ``W`` group (see `significant`)."""
    return result.background_p < p_threshold(result, alpha=alpha, method=method)


def expand(result: GiStar, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return dense ``(n, T)`` z and p in ``grid`` order, background cells filled in.

    Memory grows with grid x steps: meant for small grids, maps of one step and tests.
    """
    grid = _check_grid(grid)
    if len(grid) != result.n:
        msg = f"the result was computed on {result.n} grid cells, got a grid of {len(grid)}"
        raise ValueError(msg)
    w_all = neighbour_counts(grid, k=result.k)
    in_support = np.zeros(len(grid), dtype=bool)
    in_support[np.searchsorted(grid, result.cells)] = True
    group = np.searchsorted(result.background_w, w_all[~in_support])
    z = np.empty((len(grid), result.steps))
    p = np.empty_like(z)
    z[in_support], p[in_support] = result.z, result.p
    z[~in_support], p[~in_support] = result.background_z[group], result.background_p[group]
    return z, p


def _member(sorted_cells: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Tell which of ``cells`` are in the sorted array ``sorted_cells``."""
    if len(sorted_cells) == 0:
        return np.zeros(len(cells), dtype=bool)
    pos = np.searchsorted(sorted_cells, cells).clip(max=len(sorted_cells) - 1)
    return np.asarray(sorted_cells[pos] == cells)


def _check_grid(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.uint64)
    if grid.ndim != 1 or len(grid) == 0:
        msg = f"grid must be a non-empty 1-D array of cells, got shape {grid.shape}"
        raise ValueError(msg)
    bad = np.flatnonzero(grid[1:] <= grid[:-1])
    if len(bad):
        i = int(bad[0]) + 1
        msg = (f"grid must be sorted and unique (np.unique(grid)); item {i} ({int(grid[i]):x})"
               f" is not greater than item {i - 1} ({int(grid[i - 1]):x})")
        raise ValueError(msg)
    return grid


def _check_inputs(grid: np.ndarray, cells: np.ndarray,
                  values: np.ndarray | sp.sparray | sp.spmatrix
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return ``grid``, ``cells`` and dense float64 ``values``."""
    grid = _check_grid(grid)
    cells = np.asarray(cells, dtype=np.uint64).reshape(-1)
    outside = cells[~_member(grid, cells)]
    if len(outside):
        named = ", ".join(f"{int(c):x}" for c in outside[:5])
        msg = f"{len(outside)} data cells are not in the grid, e.g. {named}"
        raise ValueError(msg)
    distinct, counts = np.unique(cells, return_counts=True)
    if (counts > 1).any():
        named = ", ".join(f"{int(c):x}" for c in distinct[counts > 1][:5])
        msg = f"data cells must be unique (sum their values first); repeated: {named}"
        raise ValueError(msg)
    if isinstance(values, sp.sparray | sp.spmatrix):
        values = values.toarray()
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(cells):
        msg = (f"values must have shape (len(cells), T) = ({len(cells)}, T), got {x.shape};"
               " use values[:, None] for one step")
        raise ValueError(msg)
    bad = ~np.isfinite(x)
    if bad.any():
        row, step = (int(i[0]) for i in np.nonzero(bad))
        msg = f"values row {row} ({int(cells[row]):x}), step {step}: {x[row, step]} is not finite"
        raise ValueError(msg)
    return grid, cells, x


def moments(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return per-step mean and population sd over ``n`` cells, ``x`` holding the non-zeros."""
    n_zero = n - x.shape[0]
    xbar = x.sum(axis=0) / n
    var = (((x - xbar) ** 2).sum(axis=0) + n_zero * xbar**2) / n
    high = x.max(axis=0, initial=0.0 if n_zero else -np.inf)
    low = x.min(axis=0, initial=0.0 if n_zero else np.inf)
    s = np.where(high > low, np.sqrt(var), 0.0)  # exactly 0 for constant steps
    return xbar, s


def z_scores(lag: np.ndarray, w: np.ndarray, xbar: np.ndarray, s: np.ndarray, n: int) -> np.ndarray:
    """Gi* z from lags ``(m, T)`` and neighbourhood sizes ``(m,)``; 0 where undefined."""
    w = np.asarray(w, dtype=np.float64)[:, None]
    spread = np.sqrt(w * (n - w) / max(n - 1, 1)) * s[None, :]
    numerator = lag - xbar[None, :] * w
    z = np.zeros(np.broadcast_shapes(numerator.shape, spread.shape))
    np.divide(numerator, spread, out=z, where=spread > 0)
    return z


def two_sided_p(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Two-sided p-values of standard normal z-scores."""
    lower: npt.NDArray[np.float64] = ndtr(-np.abs(z))  # scipy.special has no type hints
    return 2.0 * lower
