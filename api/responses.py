"""Response bodies the routes share: GeoJSON FeatureCollections with OGC API Features' counts."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pandas as pd
from fastapi.responses import Response

GEOJSON = "application/geo+json"


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    msg = f"cannot write {type(value).__name__} {value!r} as JSON"
    raise TypeError(msg)


def geojson_response(frame: gpd.GeoDataFrame, count: int) -> Response:
    """A FeatureCollection with OGC API Features' ``numberMatched``/``numberReturned``."""
    collection = frame.to_geo_dict(na="null", drop_id=True)
    collection["numberMatched"] = count
    collection["numberReturned"] = len(frame)
    return Response(json.dumps(collection, default=_json_default), media_type=GEOJSON)
