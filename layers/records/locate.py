"""Attach H3 cells and ward codes to located records, a whole batch at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo import h3index
from geo.wards import WardIndex


def index_frame(frame: pd.DataFrame, *, resolution: int, wards: WardIndex | None
                ) -> pd.DataFrame:
    """Add ``h3_cell``, ``ward_code`` and ``outside_areas`` from the ``lat``/``lng`` columns.

    Rows without coordinates get no cell and no ward and are not counted as outside.
    Rows with coordinates outside every ward keep their cell, get no ward and are flagged.

    Examples
    --------
    >>> f = pd.DataFrame({"lat": [54.5705, np.nan], "lng": [-1.3183, np.nan]})
    >>> index_frame(f, resolution=9, wards=None)[["h3_cell", "outside_areas"]].values.tolist()
    [['89194655863ffff', True], [None, False]]
    """
    out = frame.copy()
    lat = out["lat"].to_numpy(dtype=float)
    lng = out["lng"].to_numpy(dtype=float)
    located = ~(np.isnan(lat) | np.isnan(lng))
    cells = np.full(len(out), None, dtype=object)
    wards_out = np.full(len(out), None, dtype=object)
    if located.any():
        raw = h3index.latlng_to_cells(lat[located], lng[located], resolution=resolution)
        cells[located] = h3index.cells_to_str(raw)
        if wards is not None:
            wards_out[located] = wards.assign(lat[located], lng[located], cells=raw)
    out["h3_cell"] = pd.Series(cells, index=out.index, dtype=object)
    out["ward_code"] = pd.Series(wards_out, index=out.index, dtype=object)
    out["outside_areas"] = located & pd.isna(wards_out)
    return out
