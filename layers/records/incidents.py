"""police.uk street-level crime, as published (an area-level context layer).

Locations are snapped to anonymous map points covering at least eight addresses and dates
are months, so incidents describe areas, not exact places. Anti-social behaviour rows have no
Crime ID and many are identical to another row of the same month while being distinct
incidents: they are keyed on their content plus their occurrence number among identical rows.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pandas as pd

from layers.records import _parse as _rows
from layers.store import schema

POLICE_UK_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)
# The stored text columns and the published columns they come from.
TEXT_COLUMNS = {
    "crime_id": "Crime ID", "reported_by": "Reported by", "falls_within": "Falls within",
    "location": "Location", "lsoa_code": "LSOA code", "lsoa_name": "LSOA name",
    "crime_type": "Crime type", "last_outcome": "Last outcome category", "context": "Context",
}
_CONTENT = ("Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
            "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context")


def check_columns(columns: list[str], *, source: str) -> None:
    """Raise ``ValueError`` unless ``columns`` are the published police.uk street columns."""
    missing = [c for c in POLICE_UK_COLUMNS if c not in columns]
    if missing:
        msg = (
            f"{source}: not a police.uk street-level crime file; missing columns "
            f"{missing}. Download 'street' files from data.police.uk and import them unchanged"
        )
        raise ValueError(msg)


class OccurrenceCounter:
    """Numbers identical rows across the chunks of one import, for stable keys."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def keys(self, raw: pd.DataFrame) -> np.ndarray:
        """Return the incident key of each row: the Crime ID, or content hash and number."""
        crime_id = raw["Crime ID"].fillna("").astype(str).str.strip()
        content = raw.loc[:, list(_CONTENT)].fillna("").astype(str).agg("|".join, axis=1)
        keys = np.empty(len(raw), dtype=object)
        for i, (cid, text) in enumerate(zip(crime_id, content, strict=True)):
            if cid:
                keys[i] = cid
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()[:32]
            self._seen[digest] += 1
            keys[i] = f"nocid:{digest}:{self._seen[digest]}"
        return keys


def parse_police_uk(raw: pd.DataFrame, rows: pd.Series, keys: np.ndarray
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a chunk of a police.uk street CSV; see `layers.records.places.parse_places`."""
    p = _rows.Problems(rows)
    _rows.required(p, raw, ("Month", "Crime type"))
    month = raw["Month"].fillna("").astype(str).str.strip()
    p.add((month != "") & ~month.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])"), "Month", raw["Month"],
          "must be a month like 2024-01")
    located = raw.rename(columns={"Latitude": "latitude", "Longitude": "longitude"})
    located = located.assign(postcode="", place_id="")
    lat, lng = _rows.to_latlng(p, located)
    t = schema.incidents
    text = {stored: _rows.to_text(p, raw[name], name, t.c[stored])
            for stored, name in TEXT_COLUMNS.items()}
    out = pd.DataFrame({"incident_key": keys, **text, "month": month, "lat": lat, "lng": lng})
    return out, p.frame()
