"""The outcome of every disruption: the JAG's table of what was done and what changed.

For each located activity, and each campaign (activities sharing a ``jag_ref``), three
measures from `layers.action.outcomes.measures` over equal windows before and after its start:

- **reports**: independent concern reports (patrol-discovered ones are left out, as in the
  score, so that patrolling a place cannot make its own patrol look effective or not);
- **harm**: the same reports weighted by MACE level (`layers.hotspots.weights.REPORT_LEVELS`);
- **crime** (when crime types are chosen): police.uk crimes of those types. police.uk gives
  months only: a crime counts on the 15th of its month, so use windows of several months.

Everything here is pure: `layers.action.outcomes.inputs` reads the store (`load_outcome_inputs`) and
picks what a reader may see of the table (`within`).
No verdict is given before an activity's after window is over (`judged`, by the rule of
`layers.action.outcomes.measures.after_window`).
Unlocated activities cannot be measured: they are counted in `OutcomeInputs.unlocated`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from layers.action.outcomes import measures as outcomes
from layers.action.outcomes.inputs import OutcomeInputs

MEASURES = ("reports", "harm", "crime")
SUMMARY_FIELDS = ("Rb", "Ra", "Bb", "Ba", "Cb", "Ca", "CBb", "CBa", "gross_effect",
                  "net_effect", "wdq", "wdq_reading", "wdd", "wdd_se", "wdd_z", "wdd_p",
                  "wdd_ci_low", "wdd_ci_high", "local", "local_p", "displacement",
                  "displacement_p", "code", "verdict")


def _measure(inputs: OutcomeInputs, events: pd.DataFrame, *, weighted: bool, days: int,
             alpha: float) -> pd.DataFrame:
    return outcomes.outcome_table(inputs.activities, events, inputs.cells, days=days,
                                  alpha=alpha, weighted=weighted)


def measure(inputs: OutcomeInputs, *, days: int = outcomes.DEFAULT_DAYS,
            alpha: float = 0.05) -> pd.DataFrame:
    """Every figure of every activity and campaign, before the after-window rule.

    The costly part of `disruption_table`, which does not depend on the as-of date: the API
    keeps it in memory and applies `judged` per request. Not for display: an activity whose
    after window runs still has a verdict here.
    """
    if inputs.activities.empty or inputs.cells.empty:
        return pd.DataFrame()
    base = _measure(inputs, inputs.reports, weighted=False, days=days, alpha=alpha)
    keys = ["level", "id", "activity_type", "jag_ref", "start", "after_ends", "target_cells",
            "control_cells", "matched_on"]
    table = base[keys].copy()
    parts = {"reports": base,
             "harm": _measure(inputs, inputs.reports, weighted=True, days=days, alpha=alpha)}
    if inputs.crime_types:
        parts["crime"] = _measure(inputs, inputs.crimes, weighted=False, days=days, alpha=alpha)
    for name, frame in parts.items():
        present = [f for f in SUMMARY_FIELDS if f in frame.columns]
        table = table.join(frame[present].add_prefix(f"{name}_"))
    return table


def judged(table: pd.DataFrame, *, days: int, as_of: dt.date,
           data_end: dt.date | None) -> pd.DataFrame:
    """`measure`'s table with no verdict, and no after-window figure, before the window ends.

    Each row's after window goes through `layers.action.outcomes.measures.after_window`; where it is
    not complete, every measure's ``code`` is `layers.action.outcomes.measures.TOO_EARLY`, its
    ``verdict`` the progress in words and its `layers.action.outcomes.measures.AFTER_FIELDS`
    missing. Adds ``complete``, ``after_day`` (days of the window seen) and ``after_days`` after
    ``matched_on``.
    """
    if table.empty:
        return table
    windows = [outcomes.after_window(pd.Timestamp(s).date(), days=days, as_of=as_of,
                                     data_end=data_end) for s in table["start"]]
    out = table.copy()
    at = out.columns.get_loc("matched_on") + 1
    out.insert(at, "complete", [w.complete for w in windows])
    out.insert(at + 1, "after_day", [w.seen for w in windows])
    out.insert(at + 2, "after_days", int(days))
    early = ~out["complete"].to_numpy(dtype=bool)
    if not early.any():
        return out
    texts = [w.text for w, e in zip(windows, early, strict=True) if e]
    for name in MEASURES:
        for field in outcomes.AFTER_FIELDS:
            column = f"{name}_{field}"
            if column in out.columns:
                out.loc[early, column] = np.nan if out[column].dtype.kind == "f" else None
        if f"{name}_code" in out.columns:
            out.loc[early, f"{name}_code"] = outcomes.TOO_EARLY
            out.loc[early, f"{name}_verdict"] = texts
    return out


def disruption_table(inputs: OutcomeInputs, *, as_of: dt.date,
                     days: int = outcomes.DEFAULT_DAYS, alpha: float = 0.05) -> pd.DataFrame:
    """One row per activity and campaign: reports, harm and (if chosen) crime measures.

    Columns: ``level``, ``id``, ``activity_type``, ``jag_ref``, ``start``, ``after_ends``,
    ``target_cells``, ``control_cells``, ``matched_on``, ``complete`` (the after window is
    over by ``as_of`` and within the data), ``after_day`` and ``after_days`` (its progress),
    then ``reports_*``, ``harm_*`` and ``crime_*`` copies of `SUMMARY_FIELDS`, withheld while
    the after window runs (`judged`). Sorted by activity type, activities before campaigns,
    then id.
    """
    return judged(measure(inputs, days=days, alpha=alpha), days=days, as_of=as_of,
                  data_end=inputs.data_end)


def by_type(table: pd.DataFrame) -> pd.DataFrame:
    """Per activity type: how many were measured and how many of each reports verdict.

    Only single activities with a complete after window count, so that a campaign is not
    counted twice and an activity too recent to judge is not called a failure.
    """
    done = table[(table["level"] == "activity") & table["complete"]]
    counts = pd.crosstab(done["activity_type"], done["reports_code"])
    counts = counts.reindex(columns=list(outcomes.VERDICTS), fill_value=0)
    counts.insert(0, "measured", counts.sum(axis=1))
    share = np.where(counts["measured"] > 0, counts["worked"] / counts["measured"].clip(1), 0)
    counts["share_worked"] = np.round(share, 3)
    counts.columns.name = None
    return counts.reset_index()


