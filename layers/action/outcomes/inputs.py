"""Read what the outcome table is computed from, and what of it a reader may see (its I/O)."""

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


def load_outcome_inputs(conn: sa.Connection, *, crime_types: Sequence[str] = (),
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


def fingerprint(conn: sa.Connection) -> str:
    """A short digest of what the outcome table depends on: changes when any input does.

    `layers.store.fingerprint.fingerprint` of activities, reports, incidents and areas: an
    import, an edit or new boundaries all change it; a scoring run or a review does not.
    """
    return data_fingerprint(conn, (schema.activities, schema.reports, schema.incidents,
                                   schema.areas))
