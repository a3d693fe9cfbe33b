r"""Text that GDAL cut short: in GDAL a NUL character ends a string, silently.

A GeoJSON property ``"Ab\u0000cd"`` or a GeoPackage cell holding a NUL arrives as ``"Ab"``.
`whole_text` finds such cells in the file itself and gives them back their whole text, so
that the import refuses them (`layers.records._parse.to_text` names the character and its position)
rather than storing the cut text as if it were the value.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

NUL = "\x00"


def whole_text(path: Path, layer: str | None, raw: pd.DataFrame, fids: np.ndarray
               ) -> pd.DataFrame:
    """``raw`` (text columns, lower-case names) with every cell GDAL cut at a NUL made whole.

    Parameters
    ----------
    path
        The GeoJSON or GeoPackage file ``raw`` was read from.
    layer
        The GeoPackage layer read.
    raw
        One row per feature, in the order GDAL read them.
    fids
        Each row's feature id (GeoPackage: the layer's primary key).
    """
    if path.suffix.lower() == ".gpkg":
        found = _gpkg_cells(path, layer) if layer else []
        position = {int(fid): i for i, fid in enumerate(fids)}
        cells = [(position[fid], column, text) for fid, column, text in found
                 if fid in position]
    else:
        cells = _geojson_cells(path)
    out = raw.copy()
    for row, column, text in cells:
        if column in out.columns and row < len(out):
            out.iloc[row, out.columns.get_loc(column)] = text
    return out


def _geojson_cells(path: Path) -> list[tuple[int, str, str]]:
    """(feature number, property, text) of each string property holding a NUL."""
    data = path.read_bytes()
    if b"\\u0000" not in data:  # JSON can only write a NUL escaped
        return []
    document = json.loads(data)
    features = (document.get("features") or [] if document.get("type") == "FeatureCollection"
                else [document])
    return [(i, str(key).strip().lower(), value)
            for i, feature in enumerate(features)
            for key, value in (feature.get("properties") or {}).items()
            if isinstance(value, str) and NUL in value]


def _gpkg_cells(path: Path, layer: str) -> list[tuple[int, str, str]]:
    """(feature id, column, text) of each text cell of ``layer`` holding a NUL."""
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        table = _quoted(layer)
        columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
        key = next((c[1] for c in columns if c[5]), "rowid")
        texts = [c[1] for c in columns if str(c[2]).upper().startswith(("TEXT", "VARCHAR"))]
        found = []
        for name in texts:
            blob = f"CAST({_quoted(name)} AS BLOB)"
            rows = conn.execute(f"SELECT {_quoted(key)}, {blob} FROM {table} "
                                f"WHERE instr({blob}, X'00') > 0").fetchall()
            found += [(int(fid), name.strip().lower(), bytes(value).decode("utf-8", "replace"))
                      for fid, value in rows]
    return found


def _quoted(name: str) -> str:
    """An SQL identifier: ``name`` in double quotes, any double quote in it doubled."""
    return '"' + name.replace('"', '""') + '"'
