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

from layers import _rows

POLICE_UK_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)
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
    """Parse a chunk of a police.uk street CSV; see `layers.places.parse_places`."""
    p = _rows.Problems(rows)
    _rows.required(p, raw, ("Month", "Crime type"))
    month = raw["Month"].fillna("").astype(str).str.strip()
    p.add((month != "") & ~month.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])"), "Month", raw["Month"],
          "must be a month like 2024-01")
    located = raw.rename(columns={"Latitude": "latitude", "Longitude": "longitude"})
    located = located.assign(postcode="", place_id="")
    lat, lng = _rows.to_latlng(p, located)
    out = pd.DataFrame({
        "incident_key": keys,
        "crime_id": _rows.text(raw["Crime ID"], limit=100),
        "month": month,
        "reported_by": _rows.text(raw["Reported by"], limit=100),
        "falls_within": _rows.text(raw["Falls within"], limit=100),
        "lat": lat,
        "lng": lng,
        "location": _rows.text(raw["Location"], limit=300),
        "lsoa_code": _rows.text(raw["LSOA code"], limit=16),
        "lsoa_name": _rows.text(raw["LSOA name"], limit=100),
        "crime_type": _rows.text(raw["Crime type"], limit=100),
        "last_outcome": _rows.text(raw["Last outcome category"], limit=200),
        "context": _rows.text(raw["Context"], limit=10_000),
    })
    return out, p.frame()
