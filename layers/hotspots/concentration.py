"""How concentrated harm is: the share in the top cells, and the Gini coefficient.

The law of crime concentration (about half of crime on 2-6% of street segments) makes these
a useful dashboard figure. Both are over the whole study grid of ``n`` cells, where cells
without records count as zero.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd


def concentration(values: np.ndarray, n: int, *, top: tuple[float, ...] = (0.01, 0.05)
                  ) -> pd.DataFrame:
    """Per step: total, share of the total in the top 1% and 5% of cells, and the Gini.

    Parameters
    ----------
    values
        ``(cells with data, steps)``; the other ``n - len(values)`` grid cells are zero.
    n
        Number of cells in the study grid.
    top
        Fractions of the grid whose share is reported (columns ``top_1pct``, ``top_5pct``).

    Examples
    --------
    >>> concentration(np.array([[4.0], [1.0]]), n=4).round(3).to_dict("records")
    [{'total': 5.0, 'top_1pct': 0.8, 'top_5pct': 0.8, 'gini': 0.65}]
    """
    values = np.asarray(values, dtype=float)
    if len(values) > n:
        msg = f"{len(values)} cells with data but a grid of only {n}"
        raise ValueError(msg)
    steps = values.shape[1] if values.ndim == 2 else 0
    total = values.sum(axis=0) if len(values) else np.zeros(steps)
    ordered = -np.sort(-values, axis=0)  # descending per step
    out = {"total": total}
    for fraction in top:
        m = max(1, math.ceil(fraction * n))
        out[f"top_{fraction * 100:g}pct"] = _share(ordered[:m].sum(axis=0), total)
    out["gini"] = _gini(ordered[::-1], n, total)
    return pd.DataFrame(out)


def _share(part: npt.NDArray[np.float64], total: npt.NDArray[np.float64]
           ) -> npt.NDArray[np.float64]:
    return np.divide(part, total, out=np.zeros_like(total), where=total > 0)


def _gini(ascending: npt.NDArray[np.float64], n: int, total: npt.NDArray[np.float64]
          ) -> npt.NDArray[np.float64]:
    """Gini over n cells whose zero cells sit below the ``ascending`` data values."""
    zeros = n - len(ascending)
    rank = zeros + 1 + np.arange(len(ascending), dtype=float)[:, None]
    weighted: npt.NDArray[np.float64] = ((2 * rank - n - 1) * ascending).sum(axis=0)
    return np.divide(weighted, n * total, out=np.zeros_like(total), where=total > 0)
