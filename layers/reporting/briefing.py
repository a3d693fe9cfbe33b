"""The JAG briefing pack: what changed since the last meeting, as frames (pure functions).

A pack is built for a meeting date M and a since date S, by default M minus `SINCE_DAYS`
(28 days: four weeks, the usual interval between JAG meetings). Its sections:

a. **Hot spot changes** in the newest scoring run with ``as_of <= M``. Each ever-significant
   cell's per-step states (``h`` hot, ``c`` cold, ``.`` neither; `layers.hotspots.read.cell_states`)
   are read at two steps: the *since step*, the last step starting on or before S (the first
   step when S is earlier than every step), and the run's last step.

   ============  ====================================================================
   change        rule
   ============  ====================================================================
   new hot spot  not hot at the since step, hot at the last step
   intensifying  hot at both, and its z-scores rise: Esri's category is "intensifying
                 hot spot", or the Mann-Kendall ``trend_z`` is significantly positive
                 at the run's ``trend_alpha`` (two-sided, ``trend_z > z(1 - a/2)``)
   fading        hot at the since step, not hot at the last step
   ============  ====================================================================

   Cells hot at both steps without a rising trend are steady and left out.
b. **Level changes**: entries of the places' level history with ``S <= changed_on <= M``
   (both bounds included); a place's first recorded level counts, with no "from" level.
c. **Reviews due**: places not closed whose ``review_due <= M + REVIEW_HORIZON_DAYS``
   (14 days, so reviews falling before the next fortnight are seen); *overdue* when the
   review date is before M.
d. **Actions since**: activities started on a day in ``[S, M]``, each with the reports
   verdict of `layers.action.outcomes.table.disruption_table` read as of M: no verdict while the
   after window runs (by M, or in the records), its progress instead ("day 12 of 90", by the one
   rule of `layers.action.outcomes.measures.after_window`).
e. **Top places per ward**: per ward, `TOP_PER_WARD` places not closed, by MACE level, then
   independent (not patrol-discovered) reports naming them in the `REPORT_WINDOW_DAYS` days
   ending on M, then name.
f. **Header**: meeting and since dates, the run (id, as-of, fingerprint, parameters) and the
   outcome windows, so that the pack can be reproduced.

Places' levels, review dates and statuses are the register's current values. A place's free
text ``notes`` is never an input: the frames here carry none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from layers.hotspots.coverage import covered_text
from layers.hotspots.emerging import INTENSIFYING_HOT
from layers.records.places import LEVELS

SINCE_DAYS = 28
REVIEW_HORIZON_DAYS = 14
REPORT_WINDOW_DAYS = 90
TOP_PER_WARD = 3
NEW_HOT_SPOT = "new hot spot"
INTENSIFYING = "intensifying"
FADING = "fading"
CHANGES = (NEW_HOT_SPOT, INTENSIFYING, FADING)
NOT_MEASURED = "not_measured"  # beside `measures.VERDICTS` and ``TOO_EARLY``
CLOSED = "closed"
SECTIONS = ("hotspots", "level_changes", "reviews", "actions", "top_places")
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2199, 12, 31))


@dataclass(frozen=True)
class BriefingInputs:
    """Everything a pack is built from, read by `briefing_inputs.load_briefing_inputs`.

    ``run`` holds the run's ``id``, ``as_of``, ``known_by``, ``fingerprint``, ``step``,
    ``n_steps``, ``k`` and parsed ``params``; ``step_starts`` the start of each step, the
    order of the characters of ``states["states"]``.
    """

    meeting: dt.date
    since: dt.date
    since_default: bool
    run: dict[str, Any]
    step_starts: list[dt.date]
    states: pd.DataFrame  # h3_cell, states
    cells: pd.DataFrame  # h3_cell, score, category, z_last, trend_z, ward_code
    wards: pd.DataFrame  # code, name
    places: pd.DataFrame  # id, source_id, name, lat, lng, ward_code, mace_level, review_due,
    #                       status (never notes)
    levels: pd.DataFrame  # place_id, changed_on, from_level, to_level, reason
    activities: pd.DataFrame  # source_id, activity_type, started_at, place_id, lat, lng,
    #                           ward_code, agency, outcome
    outcomes: pd.DataFrame  # the disruption table
    place_reports: pd.DataFrame  # place_id, reports (in the report window)
    outcome_days: int
    outcome_alpha: float


@dataclass(frozen=True)
class Briefing:
    """A JAG briefing pack: the header and one frame per section (`SECTIONS`)."""

    header: dict[str, Any]
    hotspots: pd.DataFrame
    level_changes: pd.DataFrame
    reviews: pd.DataFrame
    actions: pd.DataFrame
    top_places: pd.DataFrame

    def section(self, name: str) -> pd.DataFrame:
        """The frame of section ``name`` (one of `SECTIONS`)."""
        if name not in SECTIONS:
            msg = f"unknown section {name!r}; expected one of {', '.join(SECTIONS)}"
            raise ValueError(msg)
        frame: pd.DataFrame = getattr(self, name)
        return frame


def default_since(meeting: dt.date, since: dt.date | None = None) -> dt.date:
    """The since date: ``since`` if given, else `SINCE_DAYS` days before the meeting.

    Raises
    ------
    ValueError
        If ``since`` is after ``meeting``, or either lies outside `DATE_RANGE` (the pack
        counts days with pandas timestamps, which end in 2262).

    Examples
    --------
    >>> default_since(dt.date(2025, 7, 1))
    datetime.date(2025, 6, 3)
    """
    first, last = DATE_RANGE
    for name, day in (("meeting", meeting), ("since", since)):
        if day is not None and not first <= day <= last:
            msg = f"{name}: {day} is out of range; expected a date from {first} to {last}"
            raise ValueError(msg)
    if since is None:
        return meeting - dt.timedelta(days=SINCE_DAYS)
    if since > meeting:
        msg = f"since: {since} is after the meeting date {meeting}; give an earlier date"
        raise ValueError(msg)
    return since


def step_index(starts: list[dt.date], day: dt.date) -> int:
    """The index of the last step starting on or before ``day`` (0 if ``day`` is earlier).

    Examples
    --------
    >>> starts = [dt.date(2025, 6, 2), dt.date(2025, 6, 9), dt.date(2025, 6, 16)]
    >>> step_index(starts, dt.date(2025, 6, 10)), step_index(starts, dt.date(2025, 1, 1))
    (1, 0)
    """
    when = np.array(starts, dtype="datetime64[D]")
    return max(int(np.searchsorted(when, np.datetime64(day, "D"), side="right")) - 1, 0)


def _ward_names(frame: pd.DataFrame, wards: pd.DataFrame) -> pd.Series:
    names = dict(zip(wards["code"], wards["name"], strict=True))
    return frame["ward_code"].map(lambda c: names.get(c, "") if pd.notna(c) else "")


def _days(values: pd.Series) -> pd.Series:
    """Dates or datetimes as midnight timestamps (missing values as NaT)."""
    return pd.to_datetime(values.astype(object).where(values.notna(), None)).dt.normalize()


def _with(frame: pd.DataFrame, columns: dict[str, Any]) -> pd.DataFrame:
    """An empty frame with these columns and dtypes when ``frame`` has no rows."""
    if len(frame):
        return frame[list(columns)].reset_index(drop=True)
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})


HOTSPOT_COLUMNS = {"h3_cell": object, "change": object, "ward_code": object,
                   "ward_name": object, "score": float, "category": object, "z_last": float,
                   "trend_z": float, "was": object, "now": object}


def hotspot_changes(states: pd.DataFrame, cells: pd.DataFrame, wards: pd.DataFrame, *,
                    starts: list[dt.date], since: dt.date, trend_alpha: float
                    ) -> pd.DataFrame:
    """New, intensifying and fading hot spots between the since step and the last step.

    Returns
    -------
    pandas.DataFrame
        `HOTSPOT_COLUMNS`, ``change`` one of `CHANGES` (in that order), then highest score
        first; ``was`` and ``now`` are the state characters at the two steps.
    """
    if states.empty or not starts:
        return _with(states, HOTSPOT_COLUMNS)
    at = step_index(starts, since)
    frame = states.merge(cells, on="h3_cell", how="left")
    frame["was"] = frame["states"].str[at]
    frame["now"] = frame["states"].str[-1]
    hot_then, hot_now = frame["was"] == "h", frame["now"] == "h"
    critical = NormalDist().inv_cdf(1 - trend_alpha / 2)
    rising = (frame["category"] == INTENSIFYING_HOT) | (
        frame["trend_z"].astype(float) > critical)
    change = np.select([~hot_then & hot_now, hot_then & hot_now & rising,
                        hot_then & ~hot_now], list(CHANGES), default="")
    frame = frame.assign(change=change)[change != ""].copy()
    frame["ward_name"] = _ward_names(frame, wards)
    frame["order"] = frame["change"].map({c: i for i, c in enumerate(CHANGES)})
    frame = frame.astype({"score": float, "z_last": float, "trend_z": float})
    frame = frame.sort_values(["order", "score", "h3_cell"], ascending=[True, False, True])
    return _with(frame, HOTSPOT_COLUMNS)


LEVEL_COLUMNS = {"changed_on": object, "source_id": object, "name": object,
                 "ward_code": object, "ward_name": object, "from_level": "Int64",
                 "to_level": "Int64", "from_name": object, "to_name": object,
                 "direction": object, "reason": object, "lat": float, "lng": float}


def _direction(before: Any, after: Any) -> str:
    if pd.isna(before):
        return "first recorded"
    return "up" if int(after) > int(before) else "down"


def level_changes(levels: pd.DataFrame, places: pd.DataFrame, wards: pd.DataFrame, *,
                  since: dt.date, meeting: dt.date) -> pd.DataFrame:
    """Changes of MACE level dated from ``since`` to ``meeting``, both included.

    Returns
    -------
    pandas.DataFrame
        `LEVEL_COLUMNS`, oldest change first (then place name); ``direction`` is ``up``,
        ``down`` or ``first recorded``.
    """
    when = _days(levels["changed_on"])
    inside = (when >= pd.Timestamp(since)) & (when <= pd.Timestamp(meeting))
    frame = levels[inside.to_numpy()].merge(
        places[["id", "source_id", "name", "ward_code", "lat", "lng"]],
        left_on="place_id", right_on="id", how="inner")
    if frame.empty:
        return _with(frame, LEVEL_COLUMNS)
    frame["from_level"] = frame["from_level"].astype("Int64")
    frame["to_level"] = frame["to_level"].astype("Int64")
    frame["from_name"] = frame["from_level"].map(lambda v: LEVELS.get(int(v), "")
                                                 if pd.notna(v) else "")
    frame["to_name"] = frame["to_level"].map(lambda v: LEVELS.get(int(v), ""))
    frame["direction"] = [_direction(b, a) for b, a in zip(frame["from_level"],
                                                           frame["to_level"], strict=True)]
    frame["ward_name"] = _ward_names(frame, wards)
    frame = frame.astype({"lat": float, "lng": float})
    frame = frame.sort_values(["changed_on", "name", "source_id"], kind="stable")
    return _with(frame, LEVEL_COLUMNS)


REVIEW_COLUMNS = {"review_due": object, "overdue": bool, "overdue_days": int,
                  "source_id": object, "name": object, "ward_code": object,
                  "ward_name": object, "mace_level": int, "level_name": object,
                  "status": object, "lat": float, "lng": float}


def reviews_due(places: pd.DataFrame, wards: pd.DataFrame, *, meeting: dt.date,
                horizon_days: int = REVIEW_HORIZON_DAYS) -> pd.DataFrame:
    """Places not closed whose review is due by ``meeting + horizon_days`` (or overdue).

    Returns
    -------
    pandas.DataFrame
        `REVIEW_COLUMNS`, earliest review first; ``overdue_days`` is ``meeting`` minus the
        review date (negative: due in that many days) and ``overdue`` whether it is > 0.
    """
    due = _days(places["review_due"])
    horizon = pd.Timestamp(meeting + dt.timedelta(days=horizon_days))
    keep = (due <= horizon).to_numpy() & (places["status"] != CLOSED).to_numpy()
    frame = places[keep].assign(due=due[keep])
    if frame.empty:
        return _with(frame, REVIEW_COLUMNS)
    frame["overdue_days"] = (pd.Timestamp(meeting) - frame["due"]).dt.days.astype(int)
    frame["overdue"] = frame["overdue_days"] > 0
    frame["mace_level"] = frame["mace_level"].astype(int)
    frame["level_name"] = frame["mace_level"].map(LEVELS)
    frame["ward_name"] = _ward_names(frame, wards)
    frame = frame.astype({"lat": float, "lng": float})
    frame = frame.sort_values(["due", "name", "source_id"], kind="stable")
    return _with(frame, REVIEW_COLUMNS)


ACTION_COLUMNS = {"started_at": object, "id": object, "activity_type": object,
                  "ward_code": object, "ward_name": object, "place": object, "agency": object,
                  "outcome": object, "verdict": object, "measured": object,
                  "after_last": object, "lat": float, "lng": float}


def _outcome_rows(outcomes: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The disruption table's single-activity rows by activity id."""
    needed = {"level", "id", "after_ends", "reports_code", "reports_verdict"}
    if outcomes.empty or not needed <= set(outcomes.columns):
        return {}
    single = outcomes[outcomes["level"] == "activity"]
    return {str(r["id"]): r for r in single[sorted(needed)].to_dict("records")}


def measured_outcome(row: dict[str, Any] | None, *,
                     located: bool = True) -> tuple[str, str, dt.date | None]:
    """An activity's verdict code, verdict text and the last day of its after window.

    ``row`` is the activity's row of the disruption table read as of the meeting, which
    holds `layers.action.outcomes.measures.TOO_EARLY` and the window's progress until the window is
    over (the rule of `layers.action.outcomes.measures.after_window`); `NOT_MEASURED` without a row.

    Examples
    --------
    >>> row = {"after_ends": dt.date(2025, 9, 13), "reports_code": "too_early",
    ...        "reports_verdict": "Day 16 of 90 of the after window"}
    >>> measured_outcome(row)
    ('too_early', 'Day 16 of 90 of the after window', datetime.date(2025, 9, 12))
    """
    if row is None:
        why = "" if located else ": the activity has no location"
        return NOT_MEASURED, f"not measured{why}", None
    last = pd.Timestamp(row["after_ends"]).date() - dt.timedelta(days=1)
    return str(row["reports_code"]), str(row["reports_verdict"]), last


def actions_since(activities: pd.DataFrame, outcomes: pd.DataFrame, places: pd.DataFrame,
                  wards: pd.DataFrame, *, since: dt.date, meeting: dt.date) -> pd.DataFrame:
    """Activities started on a day from ``since`` to ``meeting``, with measured outcomes.

    Returns
    -------
    pandas.DataFrame
        `ACTION_COLUMNS`, oldest first: ``id`` is the analyst's activity id, ``place`` the
        name of the place it names (if any), ``outcome`` the outcome recorded with it,
        ``verdict`` a `layers.action.outcomes.measures.VERDICTS` code,
        `layers.action.outcomes.measures.TOO_EARLY` or `NOT_MEASURED`, and ``measured`` the verdict
        in words (`measured_outcome`).
    """
    day = _days(activities["started_at"])
    inside = ((day >= pd.Timestamp(since)) & (day <= pd.Timestamp(meeting))).to_numpy()
    frame = activities[inside].copy()
    if frame.empty:
        return _with(frame, ACTION_COLUMNS)
    names = dict(zip(places["id"], places["name"], strict=True))
    frame["place"] = frame["place_id"].map(lambda i: names.get(i, "") if pd.notna(i) else "")
    rows = _outcome_rows(outcomes)
    measured = [measured_outcome(rows.get(str(key)), located=pd.notna(lat))
                for key, lat in zip(frame["source_id"], frame["lat"], strict=True)]
    frame["verdict"], frame["measured"], frame["after_last"] = (
        [m[i] for m in measured] for i in range(3))
    frame["id"] = frame["source_id"]
    frame["ward_name"] = _ward_names(frame, wards)
    frame = frame.astype({"lat": float, "lng": float})
    frame = frame.assign(_when=pd.to_datetime(frame["started_at"]))
    frame = frame.sort_values(["_when", "id"], kind="stable")
    return _with(frame, ACTION_COLUMNS)


TOP_COLUMNS = {"ward_code": object, "ward_name": object, "rank": int, "source_id": object,
               "name": object, "mace_level": int, "level_name": object, "reports": int,
               "lat": float, "lng": float}


def top_places(places: pd.DataFrame, place_reports: pd.DataFrame, wards: pd.DataFrame, *,
               top: int = TOP_PER_WARD) -> pd.DataFrame:
    """Per ward, the ``top`` places not closed: by level, then reports, then name.

    Returns
    -------
    pandas.DataFrame
        `TOP_COLUMNS`, by ward code then ``rank`` (1 first); ``reports`` counts the
        independent reports of ``place_reports`` (0 for places without any). Places outside
        every ward are left out.
    """
    keep = (places["status"] != CLOSED).to_numpy() & places["ward_code"].notna().to_numpy()
    frame = places[keep].copy()
    if frame.empty:
        return _with(frame, TOP_COLUMNS)
    counts = dict(zip(place_reports["place_id"], place_reports["reports"], strict=True))
    frame["reports"] = [int(counts.get(i, 0)) for i in frame["id"]]
    frame["mace_level"] = frame["mace_level"].astype(int)
    frame = frame.sort_values(["ward_code", "mace_level", "reports", "name", "source_id"],
                              ascending=[True, False, False, True, True], kind="stable")
    frame = frame.groupby("ward_code", sort=False).head(top).copy()
    frame["rank"] = frame.groupby("ward_code", sort=False).cumcount() + 1
    frame["level_name"] = frame["mace_level"].map(LEVELS)
    frame["ward_name"] = _ward_names(frame, wards)
    frame = frame.astype({"lat": float, "lng": float})
    return _with(frame, TOP_COLUMNS)


def briefing_header(inputs: BriefingInputs) -> dict[str, Any]:
    """What the pack states at the top, to be reproduced: dates, run and parameters."""
    run, starts = inputs.run, inputs.step_starts
    return {
        "meeting": inputs.meeting, "since": inputs.since,
        "since_default": inputs.since_default, "since_days": SINCE_DAYS,
        "run_id": int(run["id"]), "as_of": run["as_of"], "known_by": run.get("known_by"),
        "fingerprint": str(run["fingerprint"]), "step": run["step"],
        "n_steps": int(run["n_steps"]), "k": int(run["k"]), "params": run["params"],
        "covered": covered_text(run.get("covered"), step=run["step"]),
        "since_step": starts[step_index(starts, inputs.since)] if starts else None,
        "last_step": starts[-1] if starts else None,
        "outcome_days": int(inputs.outcome_days), "outcome_alpha": float(inputs.outcome_alpha),
        "review_horizon_days": REVIEW_HORIZON_DAYS,
        "report_window_days": REPORT_WINDOW_DAYS, "top_per_ward": TOP_PER_WARD,
    }


def build_briefing(inputs: BriefingInputs) -> Briefing:
    """Build every section of the pack from its inputs (see the module docstring)."""
    since, meeting = default_since(inputs.meeting, inputs.since), inputs.meeting
    trend_alpha = float(inputs.run["params"].get("trend_alpha", 0.05))
    return Briefing(
        header=briefing_header(inputs),
        hotspots=hotspot_changes(inputs.states, inputs.cells, inputs.wards,
                                 starts=inputs.step_starts, since=since,
                                 trend_alpha=trend_alpha),
        level_changes=level_changes(inputs.levels, inputs.places, inputs.wards, since=since,
                                    meeting=meeting),
        reviews=reviews_due(inputs.places, inputs.wards, meeting=meeting),
        actions=actions_since(inputs.activities, inputs.outcomes, inputs.places, inputs.wards,
                              since=since, meeting=meeting),
        top_places=top_places(inputs.places, inputs.place_reports, inputs.wards),
    )
