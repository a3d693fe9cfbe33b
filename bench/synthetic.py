"""Synthetic points for the benchmarks: in given wards, with a share outside them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

SEED = 20240601
OUTSIDE_SHARE = 0.03


def synthetic_points(wards: gpd.GeoDataFrame, n: int, seed: int = SEED) -> pd.DataFrame:
    """Return ``n`` shuffled points: ~97% inside the wards, ~3% outside, in their bbox."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = wards.total_bounds
    union = shapely.union_all(wards.geometry.values)
    shapely.prepare(union)
    n_out = round(n * OUTSIDE_SHARE)
    n_in = n - n_out
    inside_lat, inside_lng, outside_lat, outside_lng = [], [], [], []
    got_in = got_out = 0
    while got_in < n_in or got_out < n_out:
        lng = rng.uniform(minx, maxx, n)
        lat = rng.uniform(miny, maxy, n)
        hit = shapely.contains_xy(union, lng, lat)
        inside_lat.append(lat[hit])
        inside_lng.append(lng[hit])
        outside_lat.append(lat[~hit])
        outside_lng.append(lng[~hit])
        got_in += int(hit.sum())
        got_out += int((~hit).sum())
    lat = np.r_[np.concatenate(inside_lat)[:n_in], np.concatenate(outside_lat)[:n_out]]
    lng = np.r_[np.concatenate(inside_lng)[:n_in], np.concatenate(outside_lng)[:n_out]]
    order = rng.permutation(n)
    return pd.DataFrame({"lat": lat[order], "lng": lng[order]})
