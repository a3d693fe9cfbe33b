"""The outcome of every disruption: the JAG's table of what was done and what changed.

For each located activity, and each campaign (activities sharing a ``jag_ref``), three
measures from `layers.action.outcomes.measures` over equal windows before and after its start:

- **reports**: independent concern reports (patrol-discovered ones are left out, as in the
  score, so that patrolling a place cannot make its own patrol look effective or not);
- **harm**: the same reports weighted by MACE level (`layers.hotspots.weights.REPORT_LEVELS`);
- **crime** (when crime types are chosen): police.uk crimes of those types. police.uk gives
  months only: a crime counts on the 15th of its month, so use windows of several months.

`load_inputs` reads the store, and `within` what a reader may see of the table (the only I/O
here); `disruption_table` and `by_type` are pure.
No verdict is given before an activity's after window is over (`judged`, by the rule of
`layers.action.outcomes.measures.after_window`).
Unlocated activities cannot be measured: they are counted in `OutcomeInputs.unlocated`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo import h3index
from layers.action.outcomes import measures as outcomes
from layers.hotspots.weights import Weights
from layers.records import read as records_read
from layers.store import schema
from layers.store import scope as scopes
from layers.store.engine import resolution
from layers.store.fingerprint import fingerprint as data_fingerprint

MEASURES = ("reports", "harm", "crime")
SUMMARY_FIELDS = ("Rb", "Ra", "Bb", "Ba", "Cb", "Ca", "CBb", "CBa", "gross_effect",
                  "net_effect", "wdq", "wdq_reading", "wdd", "wdd_se", "wdd_z", "wdd_p",
                  "wdd_ci_low", "wdd_ci_high", "local", "local_p", "displacement",
                  "displacement_p", "code", "verdict")


@dataclass(frozen=True)
class OutcomeInputs:
    """What the outcome table is computed from."""

    activities: pd.DataFrame  # id, activity_type, h3_cell, started_at, jag_ref (located)
    reports: pd.DataFrame  # h3_cell, day, weight: independent reports
    crimes: pd.DataFrame  # h3_cell, day, weight: police.uk crimes of the chosen types
    cells: pd.DataFrame  # h3_cell, ward_code, authority_code: every cell of every ward
    unlocated: int  # activities without a cell, not measured
    data_end: dt.date | None  # the last day any report or crime falls on
    crime_types: tuple[str, ...]


def ward_cells(areas: pd.DataFrame, *, resolution: int) -> pd.DataFrame:
    """Every cell whose centre lies in a ward, with its ward and authority: control candidates."""
    frames = [pd.DataFrame({"h3_cell": h3index.cells_to_str(h3index.polygon_to_cells(
                  geom, resolution=resolution, contain="centroid")), "ward_code": code,
                  "authority_code": authority})
              for code, authority, geom in zip(areas["code"], areas["authority_code"],
                                               areas.geometry, strict=True)
              if geom is not None]
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=object)
                             for name in ("h3_cell", "ward_code", "authority_code")})
    return pd.concat(frames, ignore_index=True).drop_duplicates("h3_cell")


def load_inputs(conn: sa.Connection, *, crime_types: Sequence[str] = (),
                weights: Weights | None = None) -> OutcomeInputs:
    """Read activities, independent reports, chosen crimes and ward cells from the store."""
    weights = weights or Weights()
    acts = records_read.activities(conn).rows
    located = acts[acts["h3_cell"].notna()]
    r, i = schema.reports, schema.incidents
    rows = conn.execute(sa.select(r.c.h3_cell, r.c.reported_on, r.c.mace_level).where(
        r.c.h3_cell.is_not(None), r.c.patrol_discovered.is_(False))).all()
    reports = pd.DataFrame([tuple(x) for x in rows], columns=["h3_cell", "day", "level"])
    reports["weight"] = reports["level"].map(weights.report_levels).astype(float)
    crimes = pd.DataFrame(columns=["h3_cell", "day", "weight"])
    if crime_types:
        rows = conn.execute(sa.select(i.c.h3_cell, i.c.month, i.c.crime_type).where(
            i.c.h3_cell.is_not(None), i.c.crime_type.in_(list(crime_types)))).all()
        crimes = pd.DataFrame([tuple(x) for x in rows], columns=["h3_cell", "month", "type"])
        crimes["day"] = pd.to_datetime(crimes["month"] + "-15").dt.date
        crimes["weight"] = [weights.crime_weight(t) for t in crimes["type"]]
    areas, _ = records_read.areas(conn)
    days = [d for d in (*reports["day"], *crimes["day"]) if d is not None]
    # the analyst's own activity ids (``activity_id`` of the import), not store ids
    located = located.assign(id=located["source_id"])
    return OutcomeInputs(
        activities=located[list(outcomes.ACTIVITY_COLUMNS)].reset_index(drop=True),
        reports=reports[["h3_cell", "day", "weight"]], crimes=crimes[["h3_cell", "day", "weight"]],
        cells=ward_cells(areas, resolution=resolution(conn)), unlocated=len(acts) - len(located),
        data_end=max(days) if days else None, crime_types=tuple(crime_types))


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


def within(conn: sa.Connection, table: pd.DataFrame, scope: scopes.Scope) -> pd.DataFrame:
    """The rows of an outcome table a reader of ``scope`` may see (`layers.store.scope`).

    An activity's row when the activity is in ``scope``; a campaign's when every activity
    sharing its ``jag_ref`` is (a campaign reaching into another authority is left out
    whole). The table is measured once for everyone; this only picks rows.
    """
    if scope is None or table.empty:
        return table
    a = schema.activities
    rows = conn.execute(sa.select(a.c.source_id, a.c.jag_ref, a.c.ward_code)).all()
    acts = pd.DataFrame([tuple(r) for r in rows], columns=["id", "jag_ref", "ward_code"],
                        dtype=object)
    inside = acts["ward_code"].isin(list(scopes.wards(conn, scope) or ()))
    seen = set(acts.loc[inside.to_numpy(dtype=bool), "id"].astype(str))
    refs = acts.dropna(subset=["jag_ref"])
    whole = refs.assign(inside=inside[refs.index]).groupby("jag_ref")["inside"].all()
    campaigns = {str(ref) for ref, ok in whole.items() if ok}
    ids = table["id"].astype(str)
    keep = np.where(table["level"] == "campaign", ids.isin(list(campaigns)), ids.isin(list(seen)))
    return table[keep].reset_index(drop=True)


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


def fingerprint(conn: sa.Connection) -> str:
    """A short digest of what the outcome table depends on: changes when any input does.

    `layers.store.fingerprint.fingerprint` of activities, reports, incidents and areas: an
    import, an edit or new boundaries all change it; a scoring run or a review does not.
    """
    return data_fingerprint(conn, (schema.activities, schema.reports, schema.incidents,
                                   schema.areas))
