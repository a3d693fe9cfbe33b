"""Outcome measures of disruptions: the table as a page, JSON and CSV.

The figures (`layers.action.outcomes.table.measure`) take seconds on a large store (28.8 s on
476,000 reports), so the app bounds what can be asked and how often it is computed:

- only the windows `layers.action.outcomes.measures.DAY_CHOICES` (``days``) and the test levels
  `layers.action.outcomes.measures.ALPHA_CHOICES` (``alpha``) are offered, and only crime types the
  store holds; anything else is a 422 naming the choices, before any work is done;
- the figures are computed once per change of their inputs: they are kept in memory
  (`api.results.ResultCache`, on ``app.state.outcomes``) under a fingerprint of the data
  (`layers.action.outcomes.table.fingerprint`) and the parameters, and requests for figures being
  computed wait for that computation rather than start their own;
- at most a few such computations run at once (`api.results.Slots`, from the settings
  ``heavy_slots`` and ``heavy_queue``); a request beyond them is answered 503 with
  ``Retry-After``. The module docstring of `api.results` says what a client that goes away
  can and cannot stop.

The after-window rule (no verdict before the window is over, `layers.action.outcomes.table.judged`)
is applied for each as-of date: today, unless ``as_of`` is given. The answers (page, JSON)
are kept in the page cache (`api.page_cache`) under the data, the parameters and that date.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AfterValidator

from api.auth import UserScope
from api.results import ResultCache, Slots
from api.schemas import Day
from layers import errors
from layers.action.outcomes import inputs as outcome_inputs
from layers.action.outcomes import table as disruptions
from layers.action.outcomes.measures import (
    ALPHA_CHOICES,
    DAY_CHOICES,
    DEFAULT_ALPHA,
    DEFAULT_DAYS,
    TOO_EARLY,
    VERDICTS,
)
from layers.records import read as records_read
from layers.records.spreadsheet import neutralise_csv
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.outcomes_page import SORTABLE, outcomes_page_html

router = APIRouter()
CACHE_SIZE = 16  # measured tables: a few (days, alpha, crime types) per data change
_Measured = tuple[pd.DataFrame, dt.date | None, str | None]  # figures, data end, demo notice
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


# Only these values: each (days, alpha) is a computation of its own (see the docstring).
Days = Annotated[int, Query(description="Length of the before and after windows, in days: "
                                        f"{_choices(DAY_CHOICES)}.",
                            json_schema_extra={"enum": list(DAY_CHOICES)}),
                 AfterValidator(_offered_days)]
Alpha = Annotated[float, Query(allow_inf_nan=False, description="Two-sided test level "
                               f"(0.05: 95% intervals): {_choices(ALPHA_CHOICES)}.",
                               json_schema_extra={"enum": list(ALPHA_CHOICES)}),
                  AfterValidator(_offered_alpha)]
CrimeTypes = Annotated[list[str] | None, Query(
    max_length=20, description="police.uk crime types to measure too (repeat the parameter); "
                               "types the store holds only.")]
Sort = Annotated[str, Query(max_length=32, description="Column to sort by: "
                                                       + ", ".join(SORTABLE) + ".")]
Order = Annotated[Literal["asc", "desc"], Query(description="Sort direction.")]
TypeFilter = Annotated[str | None, Query(max_length=32, description="Only this activity type.")]
AsOf = Annotated[Day | None, Query(
    description="Read the outcomes on this day, YYYY-MM-DD [default: today]: no verdict for "
                "an activity whose after window is not over by then.")]


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


PAGE_PARAMS = ("days", "alpha", "type", "as_of")  # kept in the page's sort links


def _check_sort(sort: str) -> None:
    if sort not in SORTABLE:
        msg = f"sort: unknown column; choose one of {', '.join(SORTABLE)}"
        raise errors.ParameterError(msg)


@router.get("/outcomes", response_class=HTMLResponse, tags=["outcomes"])
def outcomes_page(request: Request, scope: UserScope, days: Days = DEFAULT_DAYS,
                  alpha: Alpha = DEFAULT_ALPHA,
                  sort: Sort = "activity_type", order: Order = "asc",
                  type: TypeFilter = None,
                  as_of: AsOf = None) -> HTMLResponse:
    """Every disruption's measured effect, and which kinds of action work (HTML)."""
    _check_sort(sort)
    state, day = request.app.state, as_of or dt.date.today()
    query = {k: v for k, v in request.query_params.items() if k in PAGE_PARAMS}

    def render() -> str:
        table, summary, demo = outcome_tables(state.store, days=days, alpha=alpha, as_of=day,
                                              scope=scope, cache=state.outcomes)
        return outcomes_page_html(_select(table, type, sort, order), summary, days=days,
                                  alpha=alpha, as_of=day, sort=sort,
                                  descending=order == "desc", query=query, notice=demo)

    # the figures first, where waiting is capped; the page is then quick to make
    measured(state.store, days=days, alpha=alpha, crime_types=(), cache=state.outcomes)
    key = (tuple(sorted(query.items())), day, sort, order, scope)
    return HTMLResponse(state.page_cache.page(state.store, "outcomes", key, render))


@router.get("/api/outcomes", tags=["outcomes"], response_model=None)
def outcomes_json(request: Request, scope: UserScope, days: Days = DEFAULT_DAYS,
                  alpha: Alpha = DEFAULT_ALPHA,
                  crime_type: CrimeTypes = None, sort: Sort = "activity_type",
                  order: Order = "asc", type: TypeFilter = None,
                  as_of: AsOf = None) -> Response:
    """Every disruption's measured effect (reports, harm-weighted, crime) and the summary."""
    _check_sort(sort)
    state, day = request.app.state, as_of or dt.date.today()
    crimes = _crime_types(state.store, crime_type)

    def render() -> bytes:
        table, summary, _ = outcome_tables(state.store, days=days, alpha=alpha,
                                           crime_types=crimes, as_of=day, scope=scope,
                                           cache=state.outcomes)
        shown = _select(table, type, sort, order)
        body = {"days": days, "alpha": alpha, "as_of": day.isoformat(),
                "verdicts": [*VERDICTS, TOO_EARLY], "by_type": json_records(summary),
                "data": json_records(shown), "count": len(shown)}
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
                          ).encode("utf-8")

    measured(state.store, days=days, alpha=alpha, crime_types=crimes, cache=state.outcomes)
    key = (days, alpha, crimes, day, sort, order, type, scope)
    return Response(state.page_cache.page(state.store, "outcomes.json", key, render),
                    media_type="application/json")


@router.get("/outcomes.csv", tags=["outcomes"], response_class=Response)
def outcomes_csv(request: Request, scope: UserScope,
                 purpose: Annotated[str, Query(
                     min_length=5, max_length=200,
                     description="Why you need this export (to the audit log).")],
                 days: Days = DEFAULT_DAYS, alpha: Alpha = DEFAULT_ALPHA,
                 crime_type: CrimeTypes = None, as_of: AsOf = None) -> Response:
    """Every disruption's measured effect as CSV (formula-safe), for a spreadsheet."""
    state = request.app.state
    table, _, _ = outcome_tables(state.store, days=days, alpha=alpha,
                                 crime_types=_crime_types(state.store, crime_type),
                                 as_of=as_of, scope=scope, cache=state.outcomes)
    buffer = io.StringIO()
    neutralise_csv(table).to_csv(buffer, index=False)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="placerisk-outcomes.csv"'})
