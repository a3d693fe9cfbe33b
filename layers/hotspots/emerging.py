"""Emerging hot spot categories (Esri) and sfhotspot's simpler labels, per cell.

Input is one row per H3 cell and one column per time step: the Gi* z-scores ``z`` and
``sig``, whether each z is significant after the multiple-testing correction. A step is *sig
hot* when ``sig & (z > 0)`` and *sig cold* when ``sig & (z < 0)``; "90%" is a share of all
time steps (`classify`'s ``share``). The trend is a Mann-Kendall test on each cell's z series
(`layers.hotspots.trend.mann_kendall`) at its own ``trend_alpha``.

Rules for hot spots (cold spots mirror them, hot and cold swapped, and a *decreasing* z trend
intensifying a cold spot), after Esri's "How Emerging Hot Spot Analysis works":

==============  ==========================================================================
category        the cell's sig hot steps
==============  ==========================================================================
intensifying    >= 90% of steps, final step included; significant trend towards hot
persistent      >= 90% of steps, final step included; no significant trend
diminishing     >= 90% of steps, final step included; significant trend away from hot
oscillating     < 90%; final step hot; some earlier step sig cold
new             only the final step
consecutive     one unbroken run of >= 2 steps ending at the final step, none before; < 90%
sporadic        < 90%; final step hot; hot before the final run too, never sig cold
historical      >= 90% of steps, final step not hot
==============  ==========================================================================

Precedence, where the definitions overlap (the first rule in `_PRECEDENCE` wins):

1. The final step decides first. A cell whose final step is sig cold is classified among the
   cold categories even if >= 90% of its steps were sig hot (possible only when
   ``share <= (T - 1) / T``): "historical hot" applies only when the final step is
   significant in neither direction.
2. Oscillating beats new and consecutive. A cell sig cold earlier and newly hot shows the flip
   rather than "new" (sfdep does the same); new and consecutive thus never had a sig cold step.
3. Persistent requires the final step hot. Esri's text says "90% of the intervals, no
   trend" without naming the final step; with it not hot the cell is historical, as Esri
   defines that category, so the two never overlap.

``share`` must exceed 0.5 so that no cell is >= ``share`` hot and cold at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from layers.hotspots.trend import MannKendall, mann_kendall

NEW_HOT = "new hot spot"
CONSECUTIVE_HOT = "consecutive hot spot"
INTENSIFYING_HOT = "intensifying hot spot"
PERSISTENT_HOT = "persistent hot spot"
DIMINISHING_HOT = "diminishing hot spot"
SPORADIC_HOT = "sporadic hot spot"
OSCILLATING_HOT = "oscillating hot spot"
HISTORICAL_HOT = "historical hot spot"
NEW_COLD = "new cold spot"
CONSECUTIVE_COLD = "consecutive cold spot"
INTENSIFYING_COLD = "intensifying cold spot"
PERSISTENT_COLD = "persistent cold spot"
DIMINISHING_COLD = "diminishing cold spot"
SPORADIC_COLD = "sporadic cold spot"
OSCILLATING_COLD = "oscillating cold spot"
HISTORICAL_COLD = "historical cold spot"
NO_PATTERN = "no pattern"

# Display order: hot spots from the most to the least pressing now, then cold spots likewise.
CATEGORIES = (
    NEW_HOT, CONSECUTIVE_HOT, INTENSIFYING_HOT, PERSISTENT_HOT, DIMINISHING_HOT,
    SPORADIC_HOT, OSCILLATING_HOT, HISTORICAL_HOT,
    NEW_COLD, CONSECUTIVE_COLD, INTENSIFYING_COLD, PERSISTENT_COLD, DIMINISHING_COLD,
    SPORADIC_COLD, OSCILLATING_COLD, HISTORICAL_COLD,
    NO_PATTERN,
)

# (hot name, cold name, rule) in order of precedence; the rules are the keys of `_side_rules`.
_PRECEDENCE = (
    (INTENSIFYING_HOT, INTENSIFYING_COLD, "intensifying"),
    (PERSISTENT_HOT, PERSISTENT_COLD, "persistent"),
    (DIMINISHING_HOT, DIMINISHING_COLD, "diminishing"),
    (OSCILLATING_HOT, OSCILLATING_COLD, "oscillating"),
    (NEW_HOT, NEW_COLD, "new"),
    (CONSECUTIVE_HOT, CONSECUTIVE_COLD, "consecutive"),
    (SPORADIC_HOT, SPORADIC_COLD, "sporadic"),
    (HISTORICAL_HOT, HISTORICAL_COLD, "historical"),
)

PERSISTENT = "persistent"
EMERGING = "emerging"
FORMER = "former"
INTERMITTENT = "intermittent"
NEVER_HOT = ""
SIMPLE_LABELS = (PERSISTENT, EMERGING, FORMER, INTERMITTENT, NEVER_HOT)


def classify(z: np.ndarray, sig: np.ndarray, *, share: float = 0.9,
             trend_alpha: float = 0.05, trend: MannKendall | None = None) -> np.ndarray:
    """Give every cell its emerging hot spot category from its Gi* series.

    Parameters
    ----------
    z
        Gi* z-scores, shape (n_cells, T), finite, ``T >= 3``.
    sig
        Booleans of the same shape: z significant after the multiple-testing correction.
    share
        The "90%": share of all time steps, in (0.5, 1], that makes a cell persistently hot
        (or cold).
    trend_alpha
        Significance level of the Mann-Kendall test on each cell's z series.
    trend
        That test, if already computed on ``z`` at ``trend_alpha`` (saves doing it twice).

    Returns
    -------
    numpy.ndarray
        Object array of length n_cells holding names from `CATEGORIES`; the precedence where
        definitions overlap is in the module docstring.

    Raises
    ------
    ValueError
        If the shapes differ, `sig` is not boolean, `share` is out of range, or `z` fails
        `layers.hotspots.trend.mann_kendall`'s checks.

    Examples
    --------
    >>> z = np.array([[0.5, 0.1, -0.2, 0.3, 2.5], [3.0, 2.8, 3.1, 2.9, 0.2]])
    >>> classify(z, np.abs(z) > 1.96, share=0.75).tolist()
    ['new hot spot', 'historical hot spot']
    """
    z, sig = _checked(z, sig, share)
    direction = (trend if trend is not None else mann_kendall(z, alpha=trend_alpha)).trend
    if len(direction) != len(z):
        msg = f"trend has {len(direction)} cells, z has {len(z)}"
        raise ValueError(msg)
    hot, cold = sig & (z > 0), sig & (z < 0)
    hot_rules = _side_rules(hot, cold, direction == 1, direction == -1, share)
    cold_rules = _side_rules(cold, hot, direction == -1, direction == 1, share)
    conditions, choices = [], []
    for hot_name, cold_name, rule in _PRECEDENCE:
        conditions += [hot_rules[rule], cold_rules[rule]]
        choices += [hot_name, cold_name]
    out = np.empty(z.shape[0], dtype=object)
    out[:] = np.select(conditions, choices, default=NO_PATTERN)
    return out


def _side_rules(this: np.ndarray, other: np.ndarray, towards: np.ndarray, away: np.ndarray,
                share: float) -> dict[str, np.ndarray]:
    """Each rule's mask for one side: `this` = sig hot (or cold) steps, `other` the opposite.

    `towards` / `away`: a significant z trend towards / away from `this` side. Each mask
    states its definition in full; `_PRECEDENCE` only settles the overlaps.
    """
    steps = this.shape[1]
    count = this.sum(axis=1)
    final = this[:, -1]
    mostly = count / steps >= share
    run = _final_run(this)
    other_before = other[:, :-1].any(axis=1)
    return {
        "intensifying": mostly & final & towards,
        "persistent": mostly & final & ~towards & ~away,
        "diminishing": mostly & final & away,
        "oscillating": final & ~mostly & other_before,
        "new": final & (count == 1),
        "consecutive": final & ~mostly & (run >= 2) & (run == count),
        "sporadic": final & ~mostly & ~other_before & (count > run),
        "historical": mostly & ~final,
    }


def _final_run(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Length of the unbroken run of True values ending at the last column of each row."""
    steps = flags.shape[1]
    # first False counting from the end
    off_from_end: npt.NDArray[np.intp] = np.argmin(flags[:, ::-1], axis=1)
    return np.where(flags.all(axis=1), steps, off_from_end)


def _checked(z: np.ndarray, sig: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(z, dtype=np.float64)
    sig = np.asarray(sig)
    if z.shape != sig.shape:
        msg = f"z and sig: expected the same shape (n_cells, T), got {z.shape} and {sig.shape}"
        raise ValueError(msg)
    if sig.dtype != np.bool_:
        msg = (f"sig: expected booleans (z significant after correction), got dtype "
               f"{sig.dtype}; compare p-values with the threshold first")
        raise ValueError(msg)
    if not 0.5 < share <= 1.0:
        msg = f"share: expected a share of time steps in (0.5, 1], got {share}"
        raise ValueError(msg)
    return z, sig


def simple_labels(sig_hot: np.ndarray, *, persistent_share: float = 0.8, recent: int = 4,
                  rare_share: float = 0.2, recent_share: float = 0.5) -> np.ndarray:
    """Label cells with sfhotspot-style words that JAG members read easily.

    The first rule that holds wins:

    * ``"persistent"``: sig hot in at least `persistent_share` of all periods;
    * ``"emerging"``: sig hot in fewer than `rare_share` of the periods before the last
      `recent`, and in at least `recent_share` of the last `recent`;
    * ``"former"``: sig hot at least once before the last `recent` periods, never in them;
    * ``"intermittent"``: sig hot in some period, none of the above;
    * ``""``: never sig hot.

    Parameters
    ----------
    sig_hot
        Booleans, shape (n_cells, T): significant (after correction) and z > 0.
    persistent_share
        Share of all periods that makes a cell persistent.
    recent
        Number of final periods that count as recent, ``1 <= recent < T``.
    rare_share
        Below this share of the earlier periods a cell was "rarely" hot before.
    recent_share
        At least this share of the recent periods makes a rarely-hot cell emerging.

    Returns
    -------
    numpy.ndarray
        Object array of length n_cells holding names from `SIMPLE_LABELS`.

    Raises
    ------
    ValueError
        If `sig_hot` is not a 2-D boolean array or `recent` leaves no earlier period.

    Examples
    --------
    >>> sig_hot = np.array([[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [1, 0, 0, 0, 0, 0]], bool)
    >>> simple_labels(sig_hot, recent=2).tolist()
    ['persistent', 'emerging', 'former']
    """
    sig_hot = np.asarray(sig_hot)
    if sig_hot.ndim != 2 or sig_hot.dtype != np.bool_:
        msg = (f"sig_hot: expected a 2-D boolean array (n_cells, T), got {sig_hot.ndim}-D "
               f"of dtype {sig_hot.dtype}")
        raise ValueError(msg)
    if not 1 <= recent < sig_hot.shape[1]:
        msg = (f"recent: expected 1 <= recent < T = {sig_hot.shape[1]} so that some periods "
               f"come before the recent ones, got {recent}")
        raise ValueError(msg)
    earlier = sig_hot[:, :-recent].mean(axis=1)
    latest = sig_hot[:, -recent:].mean(axis=1)
    conditions = [
        sig_hot.mean(axis=1) >= persistent_share,
        (earlier < rare_share) & (latest >= recent_share),
        (earlier > 0) & (latest == 0),
        sig_hot.any(axis=1),
    ]
    out = np.empty(sig_hot.shape[0], dtype=object)
    out[:] = np.select(conditions, [PERSISTENT, EMERGING, FORMER, INTERMITTENT],
                       default=NEVER_HOT)
    return out
