"""The JAG briefing pack as HTML or PDF, for the route and for `placerisk briefing`."""

from __future__ import annotations

import datetime as dt

from api.results import ResultCache
from api.services.outcomes import outcome_tables
from layers import errors
from layers.action.outcomes.measures import DEFAULT_ALPHA, DEFAULT_DAYS
from layers.records import read as records_read
from layers.reporting.briefing import default_since
from layers.reporting.briefing_inputs import load_briefing, run_for
from layers.store.engine import Store
from layers.store.scope import Scope
from maps.briefing_page import briefing_page_html, section_maps
from maps.printing import html_to_pdf

OUTCOME_ALPHA = DEFAULT_ALPHA


MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def render_briefing(store: Store, *, meeting: dt.date, since: dt.date | None,
                    fmt: str = "html", scope: Scope = None,
                    cache: ResultCache | None = None) -> bytes:
    """The pack as HTML or PDF bytes (``fmt`` a `MEDIA_TYPES` key).

    ``scope``: the authorities the reader may see (`layers.store.scope`); the pack holds theirs
    only. The outcome table comes from ``cache`` (`api.services.outcomes.outcome_tables`).

    Raises
    ------
    layers.errors.ParameterError
        If ``since`` is after ``meeting``.
    layers.errors.NotFoundError
        If no scoring run is as of ``meeting`` or earlier.
    """
    if fmt not in MEDIA_TYPES:
        msg = f"format {fmt!r} is not one of {', '.join(MEDIA_TYPES)}"
        raise ValueError(msg)
    try:
        default_since(meeting, since)
    except ValueError as exc:
        raise errors.ParameterError(str(exc)) from None
    with store.connect() as conn:
        run_for(conn, meeting)  # a missing run is a 404 before the outcome table is built
    table, _, demo = outcome_tables(store, days=DEFAULT_DAYS, alpha=OUTCOME_ALPHA,
                                    as_of=meeting, scope=scope, cache=cache)
    with store.connect() as conn:
        briefing = load_briefing(conn, meeting=meeting, since=since, outcomes=table,
                                 outcome_days=DEFAULT_DAYS, outcome_alpha=OUTCOME_ALPHA,
                                 scope=scope)
        areas, _ = records_read.areas(conn, scope=scope)
    page = briefing_page_html(briefing, maps=section_maps(briefing, areas),
                              notice=demo)
    return html_to_pdf(page) if fmt == "pdf" else page.encode("utf-8")
