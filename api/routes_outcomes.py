"""Outcome measures of disruptions: the table as a page, JSON and CSV.

The figures (`layers.disruptions.measure`) are computed from the store on first request and
kept in memory under a fingerprint of their inputs (`layers.disruptions.fingerprint`), so
they are recomputed only after an import, an edit or new boundaries. The after-window rule
(no verdict before the window is over, `layers.disruptions.judged`) is applied per request
for its as-of date: today, unless ``as_of`` is given. One request computes the figures;
concurrent ones for the same key wait for that result rather than each computing them again
(under load, a cold cache otherwise has every user's request compute the table at once, each
slowed by the others).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import threading
from collections import OrderedDict
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import UserScope
from api.schemas import Day
from layers import disruptions, queries
from layers.exports import neutralise_csv
from layers.outcomes import DEFAULT_DAYS, TOO_EARLY, VERDICTS
from layers.scope import Scope
from layers.store import Store
from maps.outcomes_page import SORTABLE, outcomes_page_html

router = APIRouter()
CACHE_SIZE = 8
_Measured = tuple[pd.DataFrame, dt.date | None, str | None]  # figures, data end, demo notice
_cache: OrderedDict[tuple, _Measured] = OrderedDict()
_lock = threading.Lock()
_computing: dict[tuple, threading.Lock] = {}  # one lock per key being computed

Days = Annotated[int, Query(ge=7, le=730, description="Length of the before and after "
                                                      "windows, in days.")]
# At least 1e-6: below about 1e-16, 1 - alpha / 2 rounds to 1 and the normal quantile fails.
Alpha = Annotated[float, Query(ge=1e-6, lt=0.5, allow_inf_nan=False,
                               description="Two-sided test level (0.05: 95% intervals).")]
CrimeTypes = Annotated[list[str] | None, Query(
    max_length=20, description="police.uk crime types to measure too (repeat the parameter).")]
Sort = Annotated[str, Query(max_length=32, description="Column to sort by: "
                                                       + ", ".join(SORTABLE) + ".")]
Order = Annotated[Literal["asc", "desc"], Query(description="Sort direction.")]
TypeFilter = Annotated[str | None, Query(max_length=32, description="Only this activity type.")]
AsOf = Annotated[Day | None, Query(
    description="Read the outcomes on this day, YYYY-MM-DD [default: today]: no verdict for "
                "an activity whose after window is not over by then.")]


def outcome_tables(store: Store, *, days: int = DEFAULT_DAYS, alpha: float = 0.05,
                   crime_types: tuple[str, ...] = (), as_of: dt.date | None = None,
                   scope: Scope = None) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """The disruption table as of ``as_of`` (default today), its summary by type, demo notice.

    No verdict is given for an activity whose after window is not over by ``as_of`` in the
    records (`layers.disruptions.judged`). ``scope``: only the rows of activities and
    campaigns in these authorities (`layers.disruptions.within`), summary included.
    """
    figures, data_end, demo = _measured(store, days=days, alpha=alpha, crime_types=crime_types)
    if scope is not None:
        with store.connect() as conn:
            figures = disruptions.within(conn, figures, scope)
    table = disruptions.judged(figures, days=days, as_of=as_of or dt.date.today(),
                               data_end=data_end)
    summary = disruptions.by_type(table) if len(table) else pd.DataFrame()
    return table, summary, demo


def _measured(store: Store, *, days: int, alpha: float,
              crime_types: tuple[str, ...]) -> _Measured:
    """`layers.disruptions.measure` of the store, from the cache when its inputs are unchanged."""
    with store.connect() as conn:
        key = (store.url, disruptions.fingerprint(conn), days, alpha, crime_types)
    found = _cached(key)
    if found is not None:
        return found
    with _lock:
        gate = _computing.setdefault(key, threading.Lock())
    with gate:  # the first caller computes; the others wait here, then read the cache
        found = _cached(key)
        if found is not None:
            return found
        with store.connect() as conn:
            inputs = disruptions.load_inputs(conn, crime_types=crime_types)
            demo = queries.demo_notice(conn)
        measured = (disruptions.measure(inputs, days=days, alpha=alpha), inputs.data_end, demo)
        with _lock:
            _cache[key] = measured
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
            _computing.pop(key, None)
    return measured


def _cached(key: tuple) -> _Measured | None:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    return None


def _select(table: pd.DataFrame, activity_type: str | None, sort: str,
            order: str) -> pd.DataFrame:
    if sort not in SORTABLE:
        msg = f"sort: unknown column {sort!r}; choose one of {', '.join(SORTABLE)}"
        raise queries.ParameterError(msg)
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


@router.get("/outcomes", response_class=HTMLResponse, tags=["outcomes"])
def outcomes_page(request: Request, scope: UserScope, days: Days = DEFAULT_DAYS,
                  alpha: Alpha = 0.05,
                  sort: Sort = "activity_type", order: Order = "asc",
                  type: TypeFilter = None,  # noqa: A002 (query name)
                  as_of: AsOf = None) -> HTMLResponse:
    """Every disruption's measured effect, and which kinds of action work (HTML)."""
    day = as_of or dt.date.today()
    table, summary, demo = outcome_tables(request.app.state.store, days=days, alpha=alpha,
                                          as_of=day, scope=scope)
    shown = _select(table, type, sort, order)
    query = {k: v for k, v in request.query_params.items()}
    return HTMLResponse(outcomes_page_html(
        shown, summary, days=days, alpha=alpha, as_of=day, sort=sort,
        descending=order == "desc",
        query=query, notice=demo))


@router.get("/api/outcomes", tags=["outcomes"])
def outcomes_json(request: Request, scope: UserScope, days: Days = DEFAULT_DAYS,
                  alpha: Alpha = 0.05,
                  crime_type: CrimeTypes = None, sort: Sort = "activity_type",
                  order: Order = "asc", type: TypeFilter = None,  # noqa: A002
                  as_of: AsOf = None) -> dict[str, Any]:
    """Every disruption's measured effect (reports, harm-weighted, crime) and the summary."""
    day = as_of or dt.date.today()
    table, summary, _ = outcome_tables(request.app.state.store, days=days, alpha=alpha,
                                       crime_types=tuple(sorted(set(crime_type or ()))),
                                       as_of=day, scope=scope)
    shown = _select(table, type, sort, order)
    return {"days": days, "alpha": alpha, "as_of": day.isoformat(),
            "verdicts": [*VERDICTS, TOO_EARLY],
            "by_type": json_records(summary), "data": json_records(shown), "count": len(shown)}


@router.get("/outcomes.csv", tags=["outcomes"], response_class=Response)
def outcomes_csv(request: Request, scope: UserScope,
                 purpose: Annotated[str, Query(  # noqa: ARG001
                     min_length=5, max_length=200,
                     description="Why you need this export (to the audit log).")],
                 days: Days = DEFAULT_DAYS, alpha: Alpha = 0.05,
                 crime_type: CrimeTypes = None, as_of: AsOf = None) -> Response:
    """Every disruption's measured effect as CSV (formula-safe), for a spreadsheet."""
    table, _, _ = outcome_tables(request.app.state.store, days=days, alpha=alpha,
                                 crime_types=tuple(sorted(set(crime_type or ()))),
                                 as_of=as_of, scope=scope)
    buffer = io.StringIO()
    neutralise_csv(table).to_csv(buffer, index=False)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="placerisk-outcomes.csv"'})
