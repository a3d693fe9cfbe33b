"""Places of concern: vocabularies and parsing of the places import.

A place carries its current MACE level (4 high concern ... 1 no concern, often a protective
place); every change of level is kept in the history with its date and reason.
"""

from __future__ import annotations

import pandas as pd

from layers.records import _parse as _rows
from layers.store import schema

LEVELS = {
    4: "High concern",
    3: "Some concern",
    2: "Low concern",
    1: "No concern",
}

CATEGORIES = (
    "takeaway", "licensed_premises", "park_open_space", "shop", "empty_property",
    "transport_hub", "residential", "car_park", "school_vicinity", "youth_leisure_venue",
    "other",
)
CATEGORY_ALIASES = {
    "park": "park_open_space", "open_space": "park_open_space",
    "park_or_open_space": "park_open_space",
    "pub": "licensed_premises", "bar": "licensed_premises", "licensed": "licensed_premises",
    "empty": "empty_property", "transport": "transport_hub", "school": "school_vicinity",
    "youth_or_leisure_venue": "youth_leisure_venue", "youth_club": "youth_leisure_venue",
    "leisure": "youth_leisure_venue",
}

EXPLOITATION_TYPES = ("cse", "cce", "missing", "trafficking", "modern_slavery", "radicalisation")
EXPLOITATION_ALIASES = {
    "county_lines": "cce", "cce_county_lines": "cce", "criminal": "cce", "sexual": "cse",
    "missing_from_home": "missing", "slavery": "modern_slavery",
}

STATUSES = ("open", "monitoring", "closed")

COLUMNS = (
    "place_id", "name", "category", "address", "postcode", "latitude", "longitude",
    "mace_level", "exploitation_types", "source_agency", "assessed_on", "review_due", "notes",
)
OPTIONAL_COLUMNS = ("status", "level_reason")
REQUIRED = ("place_id", "name", "category", "mace_level")
# A row gives its location by these; a stored place keeps its own when a row gives none.
LOCATION = ("latitude", "longitude", "postcode")
# An empty cell of these keeps a stored place's value (a new place is open); an empty cell of
# any other optional column clears it. README.md "CSV formats" documents both.
KEEP_WHEN_BLANK = ("status",)


def parse_places(raw: pd.DataFrame, rows: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a chunk of the places CSV.

    Parameters
    ----------
    raw
        Text columns named as `COLUMNS` (missing optional ones filled with ``""``).
    rows
        The spreadsheet row number of each record.

    Returns
    -------
    (places, problems)
        Parsed columns for every row (the caller drops the bad ones) and the problems.
    """
    p = _rows.Problems(rows)
    t = schema.places
    _rows.required(p, raw, REQUIRED)
    lat, lng = _rows.to_latlng(p, raw)
    out = pd.DataFrame({
        "source_id": _rows.to_text(p, raw["place_id"], "place_id", t.c.source_id),
        "name": _rows.to_text(p, raw["name"], "name", t.c.name),
        "category": _rows.to_choice(p, raw["category"], "category", CATEGORIES,
                                    aliases=CATEGORY_ALIASES),
        "address": _rows.to_text(p, raw["address"], "address", t.c.address),
        "postcode": _rows.to_postcode(p, raw["postcode"], "postcode"),
        "lat": lat,
        "lng": lng,
        "mace_level": _rows.to_int(p, raw["mace_level"], "mace_level", low=1, high=4,
                                   what="a MACE level 1-4"),
        "exploitation_types": parse_exploitation_types(p, raw["exploitation_types"],
                                                       "exploitation_types"),
        "source_agency": _rows.to_text(p, raw["source_agency"], "source_agency",
                                        t.c.source_agency),
        "assessed_on": _rows.to_date(p, raw["assessed_on"], "assessed_on"),
        "review_due": _rows.to_date(p, raw["review_due"], "review_due"),
        "status": _rows.to_choice(p, raw["status"], "status", STATUSES),
        "notes": _rows.to_text(p, raw["notes"], "notes", t.c.notes),
        "level_reason": _rows.to_text(p, raw["level_reason"], "level_reason",
                                       schema.place_levels.c.reason),
    })
    out["status"] = out["status"].fillna("open")
    due_before = (pd.to_datetime(out["review_due"]) < pd.to_datetime(out["assessed_on"]))
    p.add(due_before, "review_due", raw["review_due"], "review due before the assessment date")
    return out, p.frame()


def parse_exploitation_types(p: _rows.Problems, values: pd.Series, column: str) -> pd.Series:
    """Parse semicolon-separated exploitation types into a normalised ``a;b`` string."""
    parts = values.fillna("").astype(str).str.split(";").explode()
    parts = parts[parts.str.strip() != ""]
    sub = _rows.Problems(pd.Series(range(len(parts))))
    parsed = _rows.to_choice(sub, parts.reset_index(drop=True), column, EXPLOITATION_TYPES,
                             aliases=EXPLOITATION_ALIASES)
    parsed.index = parts.index
    bad_rows = parts.index[sub.bad]
    mask = values.index.isin(bad_rows)
    p.add(mask, column, values,
          f"unknown type; expected semicolon-separated {', '.join(EXPLOITATION_TYPES)}")
    joined = parsed.dropna().groupby(level=0).agg(lambda s: ";".join(sorted(set(s))))
    return joined.reindex(values.index).astype(object).where(lambda s: s.notna(), None)
