"""Rendered map pages kept in memory until the data under them changes.

Rendering the JAG map takes a few hundred milliseconds (half of it folium's templates), and
every analyst opening ``/`` would pay it again. A page is kept under a fingerprint of
everything a map can show: a change to any table (an import, an edit, a review decision, an
erased or purged place, new boundaries, a new scoring run) changes the fingerprint, so the
next request renders afresh. Erasure therefore shows at once. The fingerprint also holds
today's date, for views whose period follows the calendar (the guardian view).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import TypeVar

import sqlalchemy as sa

from api.results import DEFAULT_WAIT_S, ResultCache
from layers.store import schema
from layers.store.engine import Store
from layers.store.fingerprint import fingerprint as data_fingerprint

CACHE_SIZE = 128  # the JAG map and its filters, ward, ward map and patrol pages, outcomes
CACHE_BYTES = 64_000_000  # a JAG map is about 1.2 MB, the outcomes JSON 2.4 MB (476k reports)
T = TypeVar("T")
# every table a map shows; `layers.store.fingerprint` reads each cheaply
TABLES: tuple[sa.Table, ...] = (
    schema.areas, schema.places, schema.place_levels, schema.place_reviews, schema.reports,
    schema.activities, schema.incidents, schema.score_runs,
)


def fingerprint(conn: sa.Connection) -> str:
    """`layers.store.fingerprint.fingerprint` of every table a map shows, and today's date."""
    return data_fingerprint(conn, TABLES, salt=dt.date.today().isoformat())


def _size(page: object) -> int:
    """The length of a page's text or bytes (`api.services.shown.Shown` holds its ``html``)."""
    text = getattr(page, "html", page)
    return len(text) if isinstance(text, str | bytes) else 0


class PageCache:
    """A small LRU of rendered pages keyed on (name, parameters, data fingerprint).

    A page is whatever its ``render`` returns: the HTML, the HTML with what it shows
    (`api.services.shown.Shown`) or an answer's bytes; one name always renders the same kind.
    Concurrent requests for a page being rendered wait for it (`api.results.ResultCache`)
    instead of each rendering it again.
    """

    def __init__(self, size: int = CACHE_SIZE, *, max_bytes: int = CACHE_BYTES) -> None:
        self.size = size
        self._pages = ResultCache(size, wait_s=DEFAULT_WAIT_S, max_bytes=max_bytes,
                                  weigh=_size)

    def page(self, store: Store, name: str, params: Hashable, render: Callable[[], T]) -> T:
        """The cached page, or ``render()`` when the data changed or it was never made."""
        with store.connect() as conn:
            key = (store.url, name, params, fingerprint(conn))
        return self._pages.get(key, render, what=name)
