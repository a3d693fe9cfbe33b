"""The outcome table of every disruption, computed once per data change and parameters."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from api.results import ResultCache, Slots
from layers import errors
from layers.action.outcomes import inputs as outcome_inputs
from layers.action.outcomes import table as disruptions
from layers.action.outcomes.measures import (
    ALPHA_CHOICES,
    DAY_CHOICES,
    DEFAULT_ALPHA,
    DEFAULT_DAYS,
)
from layers.records import read as records_read
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.outcomes_page import SORTABLE

CACHE_SIZE = 16  # measured tables: a few (days, alpha, crime types) per data change


# for callers outside the app (the command line's ward map): computed once, not capped
DEFAULT_CACHE = ResultCache(CACHE_SIZE)


JUDGED = ResultCache(CACHE_SIZE)  # (figures' key, as-of day): the table read on that day


WHAT = "the outcome table"


def _choices(values: tuple[Any, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values[:-1]) + f" or {values[-1]:g}"


def _offered_days(days: int) -> int:
    if days not in DAY_CHOICES:
        msg = (f"the outcome windows offered are {_choices(DAY_CHOICES)} days (each is "
               "computed once per change of the data)")
        raise ValueError(msg)
    return days


def _offered_alpha(alpha: float) -> float:
    for offered in ALPHA_CHOICES:
        if math.isclose(alpha, offered, rel_tol=0, abs_tol=1e-12):
            return offered
    msg = f"the test levels offered are {_choices(ALPHA_CHOICES)}"
    raise ValueError(msg)


def new_cache(*, slots: int, queue: int) -> ResultCache:
    """The app's cache of measured tables, at most ``slots`` computed at once."""
    return ResultCache(CACHE_SIZE, slots=Slots(slots, queue=queue))


def _crime_types(store: Store, asked: list[str] | None) -> tuple[str, ...]:
    """The crime types asked for, sorted and unique; 422 for any the store does not hold."""
    chosen = tuple(sorted(set(asked or ())))
    if not chosen:
        return chosen
    with store.connect() as conn:
        known = set(records_read.incident_types(conn))
    unknown = [t for t in chosen if t not in known]
    if unknown:
        msg = (f"crime_type: {len(unknown)} of the types asked for are not in the police.uk "
               f"data loaded; known types: {', '.join(sorted(known)) or 'none'}")
        raise errors.ParameterError(msg)
    return chosen


def outcome_tables(store: Store, *, days: int = DEFAULT_DAYS, alpha: float = DEFAULT_ALPHA,
                   crime_types: tuple[str, ...] = (), as_of: dt.date | None = None,
                   scope: Scope = None, cache: ResultCache | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """The disruption table as of ``as_of`` (default today), its summary by type, demo notice.

    No verdict is given for an activity whose after window is not over by ``as_of`` in the
    records (`layers.action.outcomes.table.judged`). ``scope``: only the rows of activities and
    campaigns in these authorities (`layers.action.outcomes.table.within`), summary included. The
    figures come from ``cache`` (the app's, whose slots cap the computations; default
    `DEFAULT_CACHE`); the table read on a day is kept too (`JUDGED`), since every ward page
    reads it.

    Raises
    ------
    api.results.Busy
        When the figures must be computed and the cache's slots and queue are full.
    """
    key = _key(store, days=days, alpha=alpha, crime_types=crime_types)
    figures, data_end, demo = _figures(store, key, cache)
    day = as_of or dt.date.today()

    def read() -> tuple[pd.DataFrame, pd.DataFrame]:
        shown = figures
        if scope is not None:
            with store.connect() as conn:
                shown = outcome_inputs.within(conn, figures, scope)
        table = disruptions.judged(shown, days=days, as_of=day, data_end=data_end)
        return table, disruptions.by_type(table) if len(table) else pd.DataFrame()

    scoped = None if scope is None else tuple(sorted(scope))
    table, summary = JUDGED.get((key, day, scoped), read, what=WHAT)
    return table, summary, demo


def compute(store: Store, *, days: int, alpha: float, crime_types: tuple[str, ...]
            ) -> _Measured:
    """`layers.action.outcomes.table.measure` of the store, with its data end and demo notice."""
    with store.connect() as conn:
        inputs = outcome_inputs.load_outcome_inputs(conn, crime_types=crime_types)
        demo = records_read.demo_notice(conn)
    return disruptions.measure(inputs, days=days, alpha=alpha), inputs.data_end, demo


def _key(store: Store, *, days: int, alpha: float, crime_types: tuple[str, ...]) -> tuple:
    with store.connect() as conn:
        return (store.url, outcome_inputs.fingerprint(conn), days, alpha, crime_types)


def _figures(store: Store, key: tuple, cache: ResultCache | None) -> _Measured:
    *_, days, alpha, crime_types = key
    return (cache or DEFAULT_CACHE).get(key, lambda: compute(
        store, days=days, alpha=alpha, crime_types=crime_types), what=WHAT)


def measured(store: Store, *, days: int, alpha: float, crime_types: tuple[str, ...],
             cache: ResultCache | None = None) -> _Measured:
    """`compute`, once per fingerprint of its inputs and parameters (see `outcome_tables`)."""
    return _figures(store, _key(store, days=days, alpha=alpha, crime_types=crime_types), cache)


def _select(table: pd.DataFrame, activity_type: str | None, sort: str,
            order: str) -> pd.DataFrame:
    _check_sort(sort)
    if table.empty:
        return table
    if activity_type:
        table = table[table["activity_type"].str.split("+").map(lambda t: activity_type in t)]
    return table.sort_values([sort, "id"], ascending=[order == "asc", True], kind="stable",
                             na_position="last")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _json_value(value.item())
    return value


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as ISO text, NaN and infinity as ``None``."""
    return [{k: _json_value(v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


_Measured = tuple[pd.DataFrame, dt.date | None, str | None]  # figures, data end, demo notice


def _check_sort(sort: str) -> None:
    if sort not in SORTABLE:
        msg = f"sort: unknown column; choose one of {', '.join(SORTABLE)}"
        raise errors.ParameterError(msg)
