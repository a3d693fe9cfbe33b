"""Text cells that travel through spreadsheets: formulas defused going out, restored coming in.

A CSV file placerisk writes (an export, the outcome table, a rejects file) can be opened in
a spreadsheet, which runs a cell starting with = + - @ tab or CR as a formula (OWASP "CSV
injection"): `neutralise_csv` defuses such cells and `restore_csv` takes exactly that off
again when the file is imported back. `DERIVED` names the export columns placerisk works
out itself (the importer passes over them), so that an export imports back unchanged.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_CHARS = "".join(re.escape(c) for c in FORMULA_PREFIXES)
_FORMULA = re.compile(f"^'*[{_CHARS}]")  # a formula, or a formula defused already
_DEFUSED = f"^'('*[{_CHARS}])"  # what `neutralise_csv` prefixed: `restore_csv` takes it off
# Export columns worked out by placerisk rather than given in an import file.
DERIVED = ("level_name", "ward_code", "outside_areas", "h3_cell", "geometry_wkt")


def neutralise_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Defuse spreadsheet formulas: prefix ``'`` to text starting with = + - @ tab or CR.

    Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV
    injection"). Text that starts with quotes and then one of them (``'=x``) gets one more
    quote too, so that `restore_csv` can take exactly one off and the round trip is exact.
    Only text is changed: numbers, negative ones included, stay numbers.

    Returns
    -------
    pandas.DataFrame
        A copy of ``frame``.

    Examples
    --------
    >>> f = pd.DataFrame({"name": ["=1+1", "-2+3", "'=x", "ok"], "z": [-1.5, 0.0, 2.0, 1.0]})
    >>> neutralise_csv(f).to_dict("list")
    {'name': ["'=1+1", "'-2+3", "''=x", 'ok'], 'z': [-1.5, 0.0, 2.0, 1.0]}
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            out[name] = pd.Series(
                [f"'{v}" if isinstance(v, str) and _FORMULA.match(v) else v
                 for v in column], index=out.index, dtype=object)
    return out


def restore_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo `neutralise_csv` on text read from a CSV file: take one ``'`` off a defused cell.

    A cell is defused when it is one or more ``'`` followed by = + - @ tab or CR; every
    other cell is left as it is. ``restore_csv(neutralise_csv(f))`` equals ``f``.

    Examples
    --------
    >>> f = pd.DataFrame({"name": ["'=1+1", "''=x", "'quoted'", "a'=b", "-"]})
    >>> restore_csv(f)["name"].tolist()
    ['=1+1', "'=x", "'quoted'", "a'=b", '-']
    """
    return frame.replace(_DEFUSED, r"\1", regex=True)
