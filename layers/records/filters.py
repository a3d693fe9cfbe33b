"""Filters of the JAG map: a date range, an exploitation type, a place category, an authority.

A `MapFilter` narrows what the map draws, as an analyst preparing a meeting asks it ("CCE
concern at takeaways in Hartlepool since January"):

- **places**: of the category, listing the exploitation type, in the authority's wards, and
  already assessed by the end of the range (a place with no assessment date is kept);
- **activities**: started within the range, in the authority; with a type or category, only
  those at a place that matches (an activity linked to no place then cannot match);
- **concern reports**: counted per cell by `layers.records.read.report_cells` with the same rules
  (a report's category is that of its place);
- **police.uk crime**: the months the range touches, in the authority's wards;
- **cells, wards and their ranking**: the authority only. Hot spot scores come from a
  scoring run over every type and date; they are not re-scored for a filter, and the map
  says so.

Pure functions over frames; the queries read the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from layers.records.places import CATEGORIES, EXPLOITATION_TYPES


class FilterError(ValueError):
    """A filter value that cannot be used: unknown type or category, or an empty range."""


@dataclass(frozen=True)
class MapFilter:
    """What the map is narrowed to; every field ``None`` means "everything".

    Examples
    --------
    >>> MapFilter(exploitation_type="cce", authority_code="E06000004").describe()
    'CCE; authority E06000004'
    >>> MapFilter(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 1, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    layers.records.filters.FilterError: date range: from 2026-03-01 is after to 2026-01-01; ...
    """

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    exploitation_type: str | None = None
    place_category: str | None = None
    authority_code: str | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            msg = (f"date range: from {self.date_from} is after to {self.date_to}; "
                   "swap them")
            raise FilterError(msg)
        _choice("exploitation type", self.exploitation_type, EXPLOITATION_TYPES)
        _choice("place category", self.place_category, CATEGORIES)

    @property
    def active(self) -> bool:
        """Whether any field narrows the map."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    def describe(self, authority_names: Mapping[str, str] | None = None) -> str:
        """The filter in words, for the map's banner and the exports; ``""`` when inactive."""
        parts = []
        if self.date_from or self.date_to:
            parts.append(f"{self.date_from or 'start'} to {self.date_to or 'now'}")
        if self.exploitation_type:
            parts.append(self.exploitation_type.upper().replace("_", " "))
        if self.place_category:
            parts.append(self.place_category.replace("_", " "))
        if self.authority_code:
            name = (authority_names or {}).get(self.authority_code)
            parts.append(name if name else f"authority {self.authority_code}")
        return "; ".join(parts)

    def months(self) -> tuple[str | None, str | None]:
        """The police.uk months (``YYYY-MM``) the range touches, open ends ``None``."""
        return (self.date_from.isoformat()[:7] if self.date_from else None,
                self.date_to.isoformat()[:7] if self.date_to else None)


def _choice(what: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        msg = f"{what}: unknown value {value!r}; expected one of {', '.join(allowed)}"
        raise FilterError(msg)


def ward_authorities(areas: pd.DataFrame) -> dict[str, str]:
    """``{ward code: authority code}`` from the areas frame."""
    return dict(zip(areas["code"], areas["authority_code"], strict=True))


def in_authority(ward_codes: pd.Series, f: MapFilter,
                 wards: Mapping[str, str]) -> np.ndarray:
    """Which rows lie in the filter's authority (all of them when it names none)."""
    if f.authority_code is None:
        return np.ones(len(ward_codes), dtype=bool)
    codes = {w for w, a in wards.items() if a == f.authority_code}
    return np.array(ward_codes.isin(codes), dtype=bool)  # a writable copy


def lists_type(types: pd.Series, exploitation_type: str) -> npt.NDArray[np.bool_]:
    """Which semicolon-separated type lists name ``exploitation_type``.

    Examples
    --------
    >>> lists_type(pd.Series(["cse;cce", "missing", None]), "cce").tolist()
    [True, False, False]
    """
    padded = ";" + types.fillna("").astype(str).str.replace(" ", "") + ";"
    found: npt.NDArray[np.bool_] = padded.str.contains(
        f";{exploitation_type};", regex=False).to_numpy()
    return found


def filter_places(places: pd.DataFrame, f: MapFilter,
                  wards: Mapping[str, str]) -> pd.DataFrame:
    """The places the filter keeps (see the module docstring)."""
    keep = in_authority(places["ward_code"], f, wards)
    if f.place_category is not None:
        keep &= (places["category"] == f.place_category).to_numpy()
    if f.exploitation_type is not None:
        keep &= lists_type(places["exploitation_types"], f.exploitation_type)
    if f.date_to is not None:
        assessed = pd.to_datetime(places["assessed_on"]).dt.date
        keep &= (assessed.isna() | (assessed <= f.date_to)).to_numpy()
    return places[keep]


def filter_activities(activities: pd.DataFrame, f: MapFilter, wards: Mapping[str, str],
                      places: pd.DataFrame) -> pd.DataFrame:
    """The activities the filter keeps; ``places`` are all places (``id`` is the store id)."""
    keep = in_authority(activities["ward_code"], f, wards)
    started = pd.to_datetime(activities["started_at"]).dt.date
    if f.date_from is not None:
        keep &= (started >= f.date_from).to_numpy()
    if f.date_to is not None:
        keep &= (started <= f.date_to).to_numpy()
    if f.place_category is not None or f.exploitation_type is not None:
        matching = filter_places(places, MapFilter(exploitation_type=f.exploitation_type,
                                                   place_category=f.place_category), wards)
        keep &= activities["place_id"].isin(set(matching["id"])).to_numpy()
    return activities[keep]


def filter_by_authority(frame: pd.DataFrame, f: MapFilter, wards: Mapping[str, str], *,
                        column: str = "ward_code") -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` is a ward of the filter's authority."""
    return frame[in_authority(frame[column], f, wards)]
