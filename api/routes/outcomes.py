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
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AfterValidator

from api.auth import UserScope
from api.schemas import Day
from api.services.outcomes import (
    _check_sort,
    _choices,
    _crime_types,
    _offered_alpha,
    _offered_days,
    _select,
    json_records,
    measured,
    outcome_tables,
)
from layers.action.outcomes.measures import (
    ALPHA_CHOICES,
    DAY_CHOICES,
    DEFAULT_ALPHA,
    DEFAULT_DAYS,
    TOO_EARLY,
    VERDICTS,
)
from layers.records.spreadsheet import neutralise_csv
from maps.outcomes_page import SORTABLE, outcomes_page_html

router = APIRouter(tags=["outcomes"])


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


PAGE_PARAMS = ("days", "alpha", "type", "as_of")  # kept in the page's sort links


@router.get("/outcomes", response_class=HTMLResponse)
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


@router.get("/api/outcomes", response_model=None)
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


@router.get("/outcomes.csv", response_class=Response)
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
