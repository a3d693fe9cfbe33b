"""Disruption activities coordinated by the Joint Action Group (JAG)."""

from __future__ import annotations

import pandas as pd

from layers.records import _parse as _rows
from layers.store import schema

ACTIVITY_TYPES = (
    "licensing_visit", "premises_closure", "empty_property_secured", "street_patrol",
    "housing_provider_visit", "other",
)
ACTIVITY_ALIASES = {
    "licensing": "licensing_visit", "closure": "premises_closure",
    "closure_order": "premises_closure", "empty_property": "empty_property_secured",
    "patrol": "street_patrol", "housing_visit": "housing_provider_visit",
}

COLUMNS = (
    "activity_id", "activity_type", "started_at", "ended_at", "place_id", "latitude",
    "longitude", "postcode", "agency", "outcome", "jag_ref",
)
REQUIRED = ("activity_id", "activity_type", "started_at")
LOCATION = ("latitude", "longitude", "postcode", "place_id")  # see `layers.records.places.LOCATION`
KEEP_WHEN_BLANK: tuple[str, ...] = ()  # every empty optional cell clears


def parse_activities(raw: pd.DataFrame, rows: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a chunk of the activities CSV; see `layers.records.places.parse_places`."""
    p = _rows.Problems(rows)
    t = schema.activities
    _rows.required(p, raw, REQUIRED)
    lat, lng = _rows.to_latlng(p, raw)
    started = _rows.to_datetime(p, raw["started_at"], "started_at")
    ended = _rows.to_datetime(p, raw["ended_at"], "ended_at")
    p.add(started.notna() & ended.notna() & (ended < started), "ended_at", raw["ended_at"],
          "ends before it starts (started_at " + raw["started_at"].astype(str) + ")")
    out = pd.DataFrame({
        "source_id": _rows.to_text(p, raw["activity_id"], "activity_id", t.c.source_id),
        "activity_type": _rows.to_choice(p, raw["activity_type"], "activity_type",
                                         ACTIVITY_TYPES, aliases=ACTIVITY_ALIASES),
        "started_at": _py_datetimes(started),
        "ended_at": _py_datetimes(ended),
        "place_ref": _rows.to_text(p, raw["place_id"], "place_id", schema.places.c.source_id),
        "lat": lat,
        "lng": lng,
        "postcode": _rows.to_postcode(p, raw["postcode"], "postcode"),
        "agency": _rows.to_text(p, raw["agency"], "agency", t.c.agency),
        "outcome": _rows.to_text(p, raw["outcome"], "outcome", t.c.outcome),
        "jag_ref": _rows.to_text(p, raw["jag_ref"], "jag_ref", t.c.jag_ref),
    })
    return out, p.frame()


def _py_datetimes(values: pd.Series) -> pd.Series:
    return pd.Series(
        [None if pd.isna(v) else v.to_pydatetime() for v in values], index=values.index,
        dtype=object,
    )
