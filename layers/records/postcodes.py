"""OS Code-Point Open postcodes: British National Grid positions converted to WGS84.

The published CSVs have no header row; the columns are those of
``Code-Point_Open_Column_Headers.csv`` (Postcode, Positional_quality_indicator, Eastings,
Northings, Country_code, NHS_regional_HA_code, NHS_HA_code, Admin_county_code,
Admin_district_code, Admin_ward_code).
"""

from __future__ import annotations

import pandas as pd

from geo.crs import bng_to_latlng
from layers.records import _parse as _rows
from layers.store import schema

CODEPOINT_COLUMNS = (
    "postcode", "quality", "easting", "northing", "country_code", "nhs_region", "nhs_ha",
    "county_code", "district_code", "ward_code",
)


def parse_codepoint(raw: pd.DataFrame, rows: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a chunk of Code-Point Open rows (columns `CODEPOINT_COLUMNS`)."""
    p = _rows.Problems(rows)
    t = schema.postcodes
    postcode = _rows.to_postcode(p, raw["postcode"], "postcode")
    p.add(_rows.blank(raw["postcode"]), "postcode", raw["postcode"], "required, but empty")
    easting = _rows.to_int(p, raw["easting"], "easting", low=1, high=700_000,
                           what="British National Grid easting in metres")
    northing = _rows.to_int(p, raw["northing"], "northing", low=1, high=1_300_000,
                            what="British National Grid northing in metres")
    lat, lng = bng_to_latlng(easting.fillna(0).to_numpy(float), northing.fillna(0).to_numpy(float))
    out = pd.DataFrame({
        "postcode": postcode,
        "lat": lat,
        "lng": lng,
        "easting": easting,
        "northing": northing,
        "quality": pd.to_numeric(raw["quality"], errors="coerce").astype("Int64"),
        "district_code": _rows.to_text(p, raw["district_code"], "district_code",
                                        t.c.district_code),
        "ons_ward_code": _rows.to_text(p, raw["ward_code"], "ward_code", t.c.ons_ward_code),
    })
    return out, p.frame()
