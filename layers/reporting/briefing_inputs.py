"""Read what a JAG briefing pack is built from (the I/O of `layers.reporting.briefing`).

The run, its cells and step states, places (never their notes), activities and ward names
come through `layers.records.read`; only the level history of every place and the count of
independent reports per place have queries of their own here. The disruption table is an
argument: the API and the CLI pass the cached `api.services.outcomes.outcome_tables`, so this
package does not depend on the API's cache. Erased places are left out of every read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa

from layers import errors
from layers.action.outcomes.measures import DEFAULT_DAYS
from layers.hotspots import read as hotspots_read
from layers.records import read as records_read
from layers.reporting.briefing import (
    REPORT_WINDOW_DAYS,
    Briefing,
    BriefingInputs,
    build_briefing,
    default_since,
)
from layers.store import schema
from layers.store import scope as scopes

PLACE_FIELDS = ["id", "source_id", "name", "lat", "lng", "ward_code", "mace_level",
                "review_due", "status"]
ACTIVITY_FIELDS = ["source_id", "activity_type", "started_at", "place_id", "lat", "lng",
                   "ward_code", "agency", "outcome"]
CELL_FIELDS = ["h3_cell", "score", "category", "z_last", "trend_z", "ward_code"]


def run_for(conn: sa.Connection, meeting: dt.date) -> dict[str, Any]:
    """The newest run with ``as_of <= meeting`` (latest as-of, then latest id), with steps.

    Raises
    ------
    layers.errors.NotFoundError
        When no run is as of the meeting date or earlier, saying how to make one.
    """
    runs = hotspots_read.runs(conn).rows
    usable = runs[[a <= meeting for a in runs["as_of"]]] if len(runs) else runs
    if usable.empty:
        earliest = f"; the earliest run is as of {min(runs['as_of'])}" if len(runs) else ""
        msg = (f"no scoring run as of {meeting} or earlier{earliest}: run "
               f"`placerisk score --as-of {meeting}`")
        raise errors.NotFoundError(msg)
    best = usable.sort_values(["as_of", "id"], ascending=False).iloc[0]
    return hotspots_read.run(conn, int(best["id"]))


def level_history(conn: sa.Connection, *, since: dt.date, meeting: dt.date,
                  scope: scopes.Scope = None) -> pd.DataFrame:
    """Level history entries dated from ``since`` to ``meeting``, both included.

    ``scope``: only of places in these authorities (`layers.store.scope`).
    """
    lv, p = schema.place_levels, schema.places
    places_in = sa.select(p.c.id).where(p.c.erased_at.is_(None),
                                        *scopes.where(p.c.ward_code, scope))
    rows = conn.execute(sa.select(lv.c.place_id, lv.c.changed_on, lv.c.from_level,
                                  lv.c.to_level, lv.c.reason)
                        .where(lv.c.changed_on >= since, lv.c.changed_on <= meeting,
                               lv.c.place_id.in_(places_in))
                        .order_by(lv.c.changed_on, lv.c.id)).all()
    return pd.DataFrame([tuple(r) for r in rows], dtype=object,
                        columns=["place_id", "changed_on", "from_level", "to_level", "reason"])


def place_report_counts(conn: sa.Connection, *, end: dt.date,
                        days: int = REPORT_WINDOW_DAYS, scope: scopes.Scope = None
                        ) -> pd.DataFrame:
    """Independent reports (not patrol-discovered) per place in the ``days`` ending ``end``.

    ``scope``: only of places in these authorities (`layers.store.scope`).
    """
    r, p = schema.reports, schema.places
    start = end - dt.timedelta(days=days - 1)
    live = sa.select(p.c.id).where(p.c.erased_at.is_(None), *scopes.where(p.c.ward_code, scope))
    rows = conn.execute(sa.select(r.c.place_id, sa.func.count())
                        .where(r.c.place_id.in_(live), r.c.patrol_discovered.is_(False),
                               r.c.reported_on >= start, r.c.reported_on <= end)
                        .group_by(r.c.place_id)).all()
    return pd.DataFrame([(int(p), int(n)) for p, n in rows], columns=["place_id", "reports"])


def load_briefing_inputs(conn: sa.Connection, *, meeting: dt.date, since: dt.date | None,
                outcomes: pd.DataFrame, outcome_days: int = DEFAULT_DAYS,
                outcome_alpha: float = 0.05, scope: scopes.Scope = None) -> BriefingInputs:
    """Read the inputs of a pack (see `load_briefing` for the parameters and errors)."""
    try:
        start = default_since(meeting, since)
    except ValueError as exc:
        raise errors.ParameterError(str(exc)) from None
    run = run_for(conn, meeting)
    labels, states = hotspots_read.cell_states(conn, run_id=run["id"], scope=scope)
    starts = [dt.date.fromisoformat(s) for s in labels] or list(run["steps"])
    wards, _ = records_read.areas(conn, geometry=False, scope=scope)
    return BriefingInputs(
        meeting=meeting, since=start, since_default=since is None, run=run,
        step_starts=starts, states=states,
        cells=hotspots_read.cells(conn, run_id=run["id"], scope=scope).rows[CELL_FIELDS],
        wards=pd.DataFrame(wards[["code", "name"]]),
        places=records_read.places(conn, scope=scope).rows[PLACE_FIELDS],
        levels=level_history(conn, since=start, meeting=meeting, scope=scope),
        activities=records_read.activities(conn, scope=scope).rows[ACTIVITY_FIELDS],
        outcomes=outcomes, place_reports=place_report_counts(conn, end=meeting, scope=scope),
        outcome_days=outcome_days, outcome_alpha=outcome_alpha)


def load_briefing(conn: sa.Connection, *, meeting: dt.date, since: dt.date | None,
                  outcomes: pd.DataFrame, outcome_days: int = DEFAULT_DAYS,
                  outcome_alpha: float = 0.05, scope: scopes.Scope = None) -> Briefing:
    """Read the store and build the JAG briefing pack for a meeting.

    Parameters
    ----------
    conn
        An open connection to the store.
    meeting
        The meeting date M: the newest scoring run as of M or earlier is used.
    since
        The since date S; ``None`` for M minus `layers.reporting.briefing.SINCE_DAYS` (28) days.
    outcomes
        The disruption table (`layers.action.outcomes.table.disruption_table`) read as of
        ``meeting`` (no verdict while an after window runs by then), measured over
        ``outcome_days``-day windows at ``outcome_alpha``; those two are stated in the pack.
    scope
        The authorities the reader may see (`layers.store.scope`; ``None`` for all): the pack
        holds their cells, wards, places and activities only.

    Raises
    ------
    layers.errors.ParameterError
        If ``since`` is after ``meeting``.
    layers.errors.NotFoundError
        If no scoring run is as of ``meeting`` or earlier.
    """
    inputs = load_briefing_inputs(conn, meeting=meeting, since=since, outcomes=outcomes,
                                  outcome_days=outcome_days, outcome_alpha=outcome_alpha,
                                  scope=scope)
    return build_briefing(inputs)
