"""Mann-Kendall trend test and Sen's slope, vectorised over many series at once.

The emerging hot spot classification (`layers.hotspots.emerging`) runs a Mann-Kendall test on every
cell's series of Gi* z-scores. `pymannkendall.original_test` is the reference (DOMAIN.md,
"Hot spot statistics"); `mann_kendall` gives the same numbers for a whole (cells x steps)
array in one call, without a Python loop per series:

* ``S = sum_{i<j} sign(x_j - x_i)``;
* ``Var(S) = (T(T-1)(2T+5) - sum_g t_g(t_g-1)(2t_g+5)) / 18``, ``t_g`` the size of each group
  of tied values;
* ``z = (S - 1)/sqrt(Var(S))`` for ``S > 0``, ``(S + 1)/sqrt(Var(S))`` for ``S < 0``, else 0;
* ``p = 2 (1 - Phi(|z|))`` (two-sided, normal approximation, computed as
  ``erfc(|z| / sqrt 2)`` so tiny p-values keep their digits), ``tau = S / (T(T-1)/2)``;
* trend: ``sign(z)`` where ``p < alpha``, else 0 (pymannkendall's
  ``|z| > Phi^-1(1 - alpha/2)``, the same test);
* Sen's slope: the median of ``(x_j - x_i) / (j - i)`` over all ``i < j``; intercept
  ``median(x) - median(0..T-1) * slope`` (Conover, as pymannkendall).

Series are processed in chunks so that the pairwise temporaries stay within `_CHUNK_BYTES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_STEPS = 3
# Budget for one chunk's pairwise temporaries (chunk x T x T float64 values, about twice the
# i < j differences). Chunks this small stay in cache: 3,000 x 104 runs in about 0.2 s with
# 8 MB chunks against 0.45 s with 100 MB ones (measured).
_CHUNK_BYTES = 8_000_000
_erfc = np.frompyfunc(math.erfc, 1, 1)


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall test results, one value per series (row of the input).

    Attributes
    ----------
    s
        The S statistic (int64).
    var_s
        Variance of S with the tie correction.
    z
        Standardised statistic with the continuity correction.
    p
        Two-sided p-value (normal approximation).
    tau
        Kendall's tau, ``S / (T(T-1)/2)``.
    slope
        Sen's slope per time step.
    intercept
        Intercept of the Kendall-Theil line, ``median(x) - (T-1)/2 * slope``.
    trend
        int8: +1 significant increase, -1 significant decrease, 0 no significant trend.
    """

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray
    slope: np.ndarray
    intercept: np.ndarray
    trend: np.ndarray


def mann_kendall(x: np.ndarray, *, alpha: float = 0.05) -> MannKendall:
    """Run the Mann-Kendall trend test on every row of `x`.

    Parameters
    ----------
    x
        Shape (n_series, T): one series per row, time along the columns, ``T >= 3``. Every
        value must be finite (no NaN: fill or drop incomplete series first).
    alpha
        Significance level of the two-sided test that decides `MannKendall.trend`.

    Returns
    -------
    MannKendall
        Arrays of length n_series; equal to ``pymannkendall.original_test(x[i], alpha)``.

    Raises
    ------
    ValueError
        If `x` is not 2-D, has fewer than 3 steps, holds NaN or infinite values, or `alpha`
        is not in (0, 1).

    Examples
    --------
    >>> res = mann_kendall(np.array([[1.0, 2.0, 2.0, 4.0], [3.0, 3.0, 3.0, 3.0]]))
    >>> res.s.tolist(), res.trend.tolist(), res.slope.tolist()
    ([5, 0], [0, 0], [1.0, 0.0])
    """
    x = _checked(x, alpha)
    n_series, steps = x.shape
    s = np.empty(n_series, dtype=np.int64)
    ties = np.empty(n_series)
    slope = np.empty(n_series)
    chunk = max(1, _CHUNK_BYTES // (8 * steps * steps))
    before, after = np.triu_indices(steps, k=1)  # every pair of steps i < j
    for start in range(0, n_series, chunk):
        rows = slice(start, start + chunk)
        s[rows], slope[rows] = _pairwise(x[rows], before, after)
        ties[rows] = _tie_sums(x[rows])

    var_s = (steps * (steps - 1) * (2 * steps + 5) - ties) / 18
    sd = np.sqrt(var_s)
    safe_sd = np.where(sd > 0, sd, 1.0)  # var_s == 0 only for constant series, where S == 0
    z = np.where(s > 0, (s - 1) / safe_sd, np.where(s < 0, (s + 1) / safe_sd, 0.0))
    p = np.asarray(_erfc(np.abs(z) / math.sqrt(2.0)), dtype=np.float64)
    trend = np.where(p < alpha, np.sign(z), 0).astype(np.int8)
    return MannKendall(
        s=s,
        var_s=var_s,
        z=z,
        p=p,
        tau=s / (0.5 * steps * (steps - 1)),
        slope=slope,
        intercept=np.median(x, axis=1) - (steps - 1) / 2 * slope,
        trend=trend,
    )


def _checked(x: np.ndarray, alpha: float) -> np.ndarray:
    """Return `x` as a float64 array after checking shape, values and `alpha`."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        msg = (f"x: expected a 2-D array (n_series, T), got {x.ndim}-D with shape {x.shape}; "
               "for one series pass x[np.newaxis, :]")
        raise ValueError(msg)
    if x.shape[1] < MIN_STEPS:
        msg = (f"x: Mann-Kendall needs at least {MIN_STEPS} time steps per series, "
               f"got {x.shape[1]} (shape {x.shape})")
        raise ValueError(msg)
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad.size:
        msg = (f"x: series {bad[0]} (and {bad.size - 1} more) holds NaN or infinite values; "
               "Mann-Kendall needs complete series: fill or drop them first")
        raise ValueError(msg)
    if not 0.0 < alpha < 1.0:
        msg = f"alpha: expected a significance level in (0, 1), got {alpha}"
        raise ValueError(msg)
    return x


def _pairwise(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S and Sen's slope of each row, from the differences x_j - x_i over the pairs (i, j)."""
    diff = x[:, j]
    diff -= x[:, i]
    s = np.count_nonzero(diff > 0, axis=1) - np.count_nonzero(diff < 0, axis=1)
    diff /= (j - i).astype(np.float64)
    return s, _row_medians(diff)


def _row_medians(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Median of each row, as `numpy.median`, partitioning `values` in place.

    One in-place partition around the upper middle plus a max over the lower half is several
    times faster than ``np.median(..., axis=1)``, which partitions around both middles.
    """
    half = values.shape[1] // 2
    values.partition(half, axis=1)
    upper = values[:, half]
    if values.shape[1] % 2:
        return upper.copy()
    lower: npt.NDArray[np.float64] = values[:, :half].max(axis=1)
    return (lower + upper) / 2


def _tie_sums(x: np.ndarray) -> np.ndarray:
    """Sum of t (t - 1) (2t + 5) over the groups of tied values of each row."""
    ordered = np.sort(x, axis=1)
    starts = np.ones(ordered.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(starts.ravel()) - 1  # group number of every value, rows end to end
    sizes = np.bincount(group).astype(np.float64)
    row_of_group = np.nonzero(starts)[0]
    terms = sizes * (sizes - 1) * (2 * sizes + 5)
    return np.bincount(row_of_group, weights=terms, minlength=x.shape[0])
