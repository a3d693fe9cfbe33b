"""Vectorised parsing of imported text columns, collecting one problem list per file.

Every parser takes the raw column (strings, blanks as ``""``) and returns the parsed values,
recording a problem (row, column, value, reason) for each value it cannot accept. Rows are
numbered as a spreadsheet shows them: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layers.store import schema

if TYPE_CHECKING:
    import sqlalchemy as sa

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}


class Problems:
    """Collects (row, column, value, reason) for the rows of one chunk."""

    def __init__(self, rows: pd.Series) -> None:
        self.rows = rows.reset_index(drop=True)
        self._items: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray | pd.Series, column: str, values: pd.Series,
            reason: str | pd.Series) -> None:
        """Record ``reason`` for every row where ``mask`` holds."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        reasons = reason[mask] if isinstance(reason, pd.Series) else reason
        self._items.append(pd.DataFrame({
            "row": self.rows[mask].to_numpy(),
            "position": np.flatnonzero(mask),
            "column": column,
            "value": np.asarray(values, dtype=object)[mask],
            "reason": np.asarray(reasons, dtype=object) if isinstance(reasons, pd.Series)
            else reasons,
        }))

    @property
    def bad(self) -> np.ndarray:
        """Boolean mask of the rows with at least one problem."""
        out = np.zeros(len(self.rows), dtype=bool)
        for item in self._items:
            out[item["position"].to_numpy()] = True
        return out

    def frame(self) -> pd.DataFrame:
        """All problems, ordered by row."""
        if not self._items:
            return pd.DataFrame(columns=["row", "position", "column", "value", "reason"])
        return pd.concat(self._items, ignore_index=True).sort_values(["row", "column"],
                                                                     kind="stable")


def messages(problems: pd.DataFrame) -> pd.Series:
    """One message per bad row, indexed by row number.

    Examples
    --------
    >>> p = pd.DataFrame({"row": [3, 3], "column": ["mace_level", "latitude"],
    ...                   "value": ["7", "x"], "reason": ["must be 1-4", "not a number"]})
    >>> messages(p).tolist()
    ["row 3: mace_level '7': must be 1-4; latitude 'x': not a number"]
    """
    if problems.empty:
        return pd.Series(dtype=object)
    text = [f"{c} {v!r}: {r}" if v != "" else f"{c}: {r}"
            for c, v, r in zip(problems["column"], problems["value"], problems["reason"],
                               strict=True)]
    joined = pd.Series(text, index=problems["row"].to_numpy()).groupby(level=0).agg("; ".join)
    return pd.Series([f"row {row}: {msg}" for row, msg in joined.items()], index=joined.index)


def blank(values: pd.Series) -> pd.Series:
    """True where a value is empty or whitespace."""
    return values.fillna("").astype(str).str.strip() == ""


def required(problems: Problems, frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Record a problem for each blank value of a required column."""
    for column in columns:
        problems.add(blank(frame[column]), column, frame[column], "required, but empty")


def to_int(problems: Problems, values: pd.Series, column: str, *, low: int, high: int,
           what: str = "") -> pd.Series:
    """Parse whole numbers in ``[low, high]``; blanks become missing."""
    text = values.fillna("").astype(str).str.strip()
    number = pd.to_numeric(text.where(text != ""), errors="coerce")
    whole = number.notna() & (number == np.floor(number))
    ok = whole & number.between(low, high)
    label = what or f"a whole number {low}-{high}"
    problems.add((text != "") & ~ok, column, values, f"must be {label}")
    return number.where(ok).astype("Int64")


def to_float(problems: Problems, values: pd.Series, column: str) -> pd.Series:
    """Parse decimal numbers; blanks become NaN, other text is a problem."""
    text = values.fillna("").astype(str).str.strip()
    number = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = (text != "") & (number.isna() | ~np.isfinite(number.fillna(0)))
    problems.add(bad, column, values, "not a number")
    return number.where(~bad).astype(float)


def to_date(problems: Problems, values: pd.Series, column: str) -> pd.Series:
    """Parse ISO dates (``YYYY-MM-DD``); day-first ``DD/MM/YYYY`` is accepted too."""
    parsed = _to_datetime(problems, values, column, "a date like 2025-03-31")
    dates = np.where(parsed.notna(), parsed.dt.date.astype(object), None)
    return pd.Series(dates, index=values.index, dtype=object)


def to_datetime(problems: Problems, values: pd.Series, column: str) -> pd.Series:
    """Parse ISO date-times (``YYYY-MM-DDTHH:MM``, or a date alone meaning midnight)."""
    return _to_datetime(problems, values, column, "a date-time like 2025-03-31T18:30")


def _to_datetime(problems: Problems, values: pd.Series, column: str, label: str) -> pd.Series:
    text = values.fillna("").astype(str).str.strip()
    iso = pd.to_datetime(text.where(text != ""), errors="coerce", format="ISO8601")
    dayfirst = text.str.match(r"^\d{1,2}/\d{1,2}/\d{4}")
    if dayfirst.any():
        uk = pd.to_datetime(text.where(dayfirst), errors="coerce", format="%d/%m/%Y")
        iso = iso.where(~dayfirst, uk)
    if getattr(iso.dt, "tz", None) is not None:
        iso = iso.dt.tz_convert("UTC").dt.tz_localize(None)
    # ISO 8601 reads "-1" as the year -1, which no date can hold: not a date either
    iso = iso.where(iso.isna() | iso.dt.year.between(1000, 9999))
    problems.add((text != "") & iso.isna(), column, values, f"cannot read {label}")
    return iso


def to_choice(problems: Problems, values: pd.Series, column: str, choices: Iterable[str],
              *, aliases: dict[str, str] | None = None) -> pd.Series:
    """Normalise to one of ``choices`` (case and spacing ignored); blanks stay blank."""
    allowed = set(choices)
    key = values.fillna("").astype(str).str.strip().str.lower().str.replace(r"[\s\-/]+", "_",
                                                                             regex=True)
    key = key.map(lambda k: (aliases or {}).get(k, k))
    bad = (key != "") & ~key.isin(allowed)
    problems.add(bad, column, values, f"unknown; expected one of {', '.join(sorted(allowed))}")
    return key.where(~bad & (key != ""), None)


def to_bool(problems: Problems, values: pd.Series, column: str) -> pd.Series:
    """Parse yes/no values (true/false, yes/no, y/n, 1/0); blank means no."""
    key = values.fillna("").astype(str).str.strip().str.lower()
    bad = ~key.isin(_TRUE | _FALSE)
    problems.add(bad, column, values, "must be true or false (yes/no, 1/0)")
    return key.isin(_TRUE)


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """Upper-case UK postcodes with one space before the inward code; others to ``None``.

    Examples
    --------
    >>> normalise_postcodes(pd.Series(["ts18 1aa", "TS181AA", "nonsense", ""])).tolist()
    ['TS18 1AA', 'TS18 1AA', None, None]
    """
    text = values.fillna("").astype(str).str.upper().str.replace(r"\s+", "", regex=True)
    parts = text.str.extract(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
    out = parts[0] + " " + parts[1]
    return out.astype(object).where(out.notna(), None)


def to_postcode(problems: Problems, values: pd.Series, column: str) -> pd.Series:
    """Normalise postcodes, recording a problem for text that is not one."""
    out = normalise_postcodes(values)
    problems.add(~blank(values) & out.isna(), column, values,
                 "not a UK postcode (like TS18 1AA)")
    return out


# Control characters (Unicode category Cc: C0, DEL and C1) but tab, line feed and carriage
# return, which a spreadsheet cell may hold (an address on two lines) and which exports keep.
# PostgreSQL refuses NUL in text and SQLite's functions stop at it: it never reaches the
# store. README.md "Bad rows" documents the rule.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_CHAR_NAMES = {0: "NUL", 0x1B: "escape", 0x7F: "delete"}


def to_text(problems: Problems, values: pd.Series, column: str, stored: sa.Column[Any]
            ) -> pd.Series:
    r"""Strip text and turn blanks into ``None``, for the store column ``stored``.

    A value longer than the column takes (`layers.store.schema.max_chars`), or holding a control
    character other than tab, line feed and carriage return, is a problem naming its length,
    or the character and its position (1 is the cell's first character), and becomes
    ``None``. The message leaves the value out: it may be long, and the character
    unprintable.

    Examples
    --------
    >>> p = Problems(pd.Series([2, 3, 4]))
    >>> cells = pd.Series([" two\nlines ", "a" + chr(0) + "b", "x" * 301])
    >>> to_text(p, cells, "name", schema.places.c.name).tolist()[0]
    'two\nlines'
    >>> for message in messages(p.frame()):
    ...     print(message)
    row 3: name: control character U+0000 (NUL) at character 2; only tab and line breaks allowed
    row 4: name: 301 characters; at most 300
    """
    raw = values.fillna("").astype(str)
    out = raw.str.strip()
    none = pd.Series([""] * len(out))
    bad = out.str.contains(f"[{_CONTROL}]", regex=True).to_numpy(dtype=bool)
    if bad.any():
        skip = raw[bad].str.len() - raw[bad].str.lstrip().str.len()
        at = out[bad].str.extract(f"^([^{_CONTROL}]*)", expand=False).str.len()
        reasons = pd.Series("", index=range(len(out)), dtype=object)
        reasons[np.flatnonzero(bad)] = [
            _control_reason(text[i], int(lead + i + 1))
            for text, i, lead in zip(out[bad], at, skip, strict=True)]
        problems.add(bad, column, none, reasons)
    limit = schema.max_chars(stored)
    length = out.str.len().to_numpy()
    long = length > limit
    if long.any():
        reasons = pd.Series("", index=range(len(out)), dtype=object)
        reasons[np.flatnonzero(long)] = [f"{n:,} characters; at most {limit:,}"
                                         for n in length[long]]
        problems.add(long, column, none, reasons)
    # a refused cell has no value: the rest of the import (lookups of ids in the store
    # among them) never sees it
    return out.astype(object).where((out != "") & ~bad & ~long, None)


def text_problem(text: str, stored: sa.Column[Any]) -> str | None:
    """Why ``text`` cannot be stored in ``stored`` (`to_text`'s rule for one value), or None.

    Examples
    --------
    >>> text_problem("retain: still a concern", schema.place_reviews.c.reason) is None
    True
    >>> text_problem("x" * 2001, schema.place_reviews.c.reason)
    '2,001 characters; at most 2,000'
    """
    found = _CONTROL_RE.search(text)
    if found:
        return _control_reason(found.group(), found.start() + 1)
    limit = schema.max_chars(stored)
    return f"{len(text):,} characters; at most {limit:,}" if len(text) > limit else None


def _control_reason(char: str, position: int) -> str:
    code = ord(char)
    name = f"U+{code:04X}" + (f" ({_CHAR_NAMES[code]})" if code in _CHAR_NAMES else "")
    return (f"control character {name} at character {position:,}; only tab and line breaks "
            "allowed")


def to_latlng(problems: Problems, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Parse the ``latitude``/``longitude`` pair, checking range and order for the UK."""
    from geo.crs import latlng_problems

    lat = to_float(problems, frame["latitude"], "latitude")
    lng = to_float(problems, frame["longitude"], "longitude")
    one_only = lat.isna() != lng.isna()
    problems.add(one_only & lat.isna() & ~blank(frame["longitude"]), "latitude",
                 frame["latitude"], "missing while longitude is given")
    problems.add(one_only & lng.isna() & ~blank(frame["latitude"]), "longitude",
                 frame["longitude"], "missing while latitude is given")
    both = (lat.notna() & lng.notna()).to_numpy()
    reasons = pd.Series(latlng_problems(lat.to_numpy(), lng.to_numpy()))
    bad = both & reasons.notna().to_numpy()
    problems.add(bad, "latitude", frame["latitude"].astype(str) + ", " + frame["longitude"],
                 reasons)
    keep = both & ~bad
    return lat.where(keep), lng.where(keep)
