"""Concern reports: dated observations about a place or location that drive the scores.

Each report may carry the UK police 3x5x2 intelligence grading (source 1-3, assessment A-E,
handling P/C); grades are analyst-only data. ``patrol_discovered`` keeps records found by
patrols apart from independently reported concern (the bias guardrail in DOMAIN.md).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from layers.records import _parse as _rows
from layers.records.places import EXPLOITATION_ALIASES, EXPLOITATION_TYPES
from layers.store import schema

INTEL_GRADES = {
    "A": "known directly to the source",
    "B": "known indirectly but corroborated",
    "C": "known indirectly",
    "D": "not known",
    "E": "suspected to be false",
}
HANDLING_CODES = {"P": "lawful sharing permitted", "C": "sharing with conditions"}

COLUMNS = (
    "report_id", "reported_on", "place_id", "latitude", "longitude", "postcode", "mace_level",
    "exploitation_type", "source_agency", "patrol_discovered", "source_grade", "intel_grade",
    "handling_code", "summary",
)
REQUIRED = ("report_id", "reported_on", "mace_level")
LOCATION = ("latitude", "longitude", "postcode", "place_id")  # see `layers.records.places.LOCATION`
# An empty patrol_discovered keeps a stored report's flag (the bias guardrail); a new report
# is then independent. See `layers.records.places.KEEP_WHEN_BLANK`.
KEEP_WHEN_BLANK = ("patrol_discovered",)


def parse_reports(raw: pd.DataFrame, rows: pd.Series, *, today: dt.date | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a chunk of the reports CSV; as `layers.records.places.parse_places`."""
    p = _rows.Problems(rows)
    t = schema.reports
    _rows.required(p, raw, REQUIRED)
    lat, lng = _rows.to_latlng(p, raw)
    out = pd.DataFrame({
        "source_id": _rows.to_text(p, raw["report_id"], "report_id", t.c.source_id),
        "reported_on": _rows.to_date(p, raw["reported_on"], "reported_on"),
        "place_ref": _rows.to_text(p, raw["place_id"], "place_id", schema.places.c.source_id),
        "lat": lat,
        "lng": lng,
        "postcode": _rows.to_postcode(p, raw["postcode"], "postcode"),
        "mace_level": _rows.to_int(p, raw["mace_level"], "mace_level", low=1, high=4,
                                   what="a MACE level 1-4"),
        "exploitation_type": _rows.to_choice(p, raw["exploitation_type"], "exploitation_type",
                                             EXPLOITATION_TYPES, aliases=EXPLOITATION_ALIASES),
        "source_agency": _rows.to_text(p, raw["source_agency"], "source_agency",
                                        t.c.source_agency),
        "patrol_discovered": _rows.to_bool(p, raw["patrol_discovered"], "patrol_discovered"),
        "source_grade": _rows.to_int(p, raw["source_grade"], "source_grade", low=1, high=3,
                                     what="1, 2 or 3 (3x5x2 source evaluation)"),
        "intel_grade": _grade(p, raw["intel_grade"], "intel_grade", INTEL_GRADES),
        "handling_code": _grade(p, raw["handling_code"], "handling_code", HANDLING_CODES),
        "summary": _rows.to_text(p, raw["summary"], "summary", t.c.summary),
    })
    today = today or dt.date.today()
    future = out["reported_on"].notna() & (out["reported_on"] > today)
    p.add(future, "reported_on", raw["reported_on"], f"is in the future (today is {today})")
    return out, p.frame()


def _grade(p: _rows.Problems, values: pd.Series, column: str, codes: dict[str, str]
           ) -> pd.Series:
    key = values.fillna("").astype(str).str.strip().str.upper()
    bad = (key != "") & ~key.isin(list(codes))
    p.add(bad, column, values, f"must be one of {', '.join(codes)}")
    return key.astype(object).where(~bad & (key != ""), None)
