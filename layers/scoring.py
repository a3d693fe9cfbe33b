"""A first, simple cell score: harm-weighted concern reports in a recent window.

``score(cell) = sum of LEVEL_WEIGHTS[level]`` over the independent concern reports in the
cell dated in ``(as_of - window_days, as_of]``. Level 1 (no concern; often a protective
place) adds nothing. Reports discovered by patrols are left out, so that where patrols go
does not make its own hot spot (the bias guardrail in DOMAIN.md). The space-time engine
(Gi*, emerging hot spots) replaces this later; this is the score the first map shows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# Ordinal MACE levels as weights: each level counts twice the one below, level 1 nothing.
LEVEL_WEIGHTS = {4: 4.0, 3: 2.0, 2: 1.0, 1: 0.0}
WINDOW_DAYS = 90
METHOD = "simple-v1: sum of level weights {4: 4, 3: 2, 2: 1, 1: 0} of independent reports"


def simple_scores(reports: pd.DataFrame, *, as_of: dt.date, window_days: int = WINDOW_DAYS,
                  weights: dict[int, float] | None = None) -> pd.DataFrame:
    """Score each H3 cell from the reports in the window ending at ``as_of``.

    Parameters
    ----------
    reports
        Columns ``h3_cell``, ``reported_on`` (dates), ``mace_level``, ``patrol_discovered``.
    as_of
        The last day counted.
    window_days
        Length of the window in days.
    weights
        Weight per MACE level; defaults to `LEVEL_WEIGHTS`.

    Returns
    -------
    pandas.DataFrame
        ``h3_cell, score, n_reports``, highest score first; cells with no report in the
        window are absent.

    Examples
    --------
    >>> r = pd.DataFrame({"h3_cell": ["a", "a", "b", "b"],
    ...                   "reported_on": [dt.date(2025, 3, 1)] * 4,
    ...                   "mace_level": [4, 2, 1, 3], "patrol_discovered": [False, False,
    ...                                                                     False, True]})
    >>> simple_scores(r, as_of=dt.date(2025, 3, 31)).to_dict("records")
    [{'h3_cell': 'a', 'score': 5.0, 'n_reports': 2}, {'h3_cell': 'b', 'score': 0.0, 'n_reports': 1}]
    """
    weights = LEVEL_WEIGHTS if weights is None else weights
    start = as_of - dt.timedelta(days=window_days)
    on = pd.to_datetime(reports["reported_on"]).dt.date
    keep = (
        reports["h3_cell"].notna()
        & (on > start) & (on <= as_of)
        & ~reports["patrol_discovered"].astype(bool)
    )
    window = reports.loc[keep, ["h3_cell", "mace_level"]]
    weight = window["mace_level"].astype(int).map(weights).fillna(0.0).astype(float)
    grouped = (window.assign(weight=weight).groupby("h3_cell")
               .agg(score=("weight", "sum"), n_reports=("weight", "size")).reset_index())
    grouped["n_reports"] = grouped["n_reports"].astype(np.int64).astype(int)
    return grouped.sort_values(["score", "h3_cell"], ascending=[False, True],
                               ignore_index=True)
