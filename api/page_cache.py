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
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa

from layers import schema
from layers.store import Store

CACHE_SIZE = 32
T = TypeVar("T")
_STAMPS: tuple[tuple[sa.Table, tuple[str, ...]], ...] = (
    (schema.areas, ("loaded_at",)),
    (schema.places, ("updated_at", "erased_at")),
    (schema.place_levels, ("recorded_at",)),
    (schema.place_reviews, ("decided_at",)),
    (schema.reports, ("updated_at",)),
    (schema.activities, ("updated_at",)),
    (schema.incidents, ("updated_at",)),
    (schema.score_runs, ("created_at",)),
)


def fingerprint(conn: sa.Connection) -> str:
    """A digest of the row count, highest id and newest stamps of every table a map shows."""
    parts = [dt.date.today().isoformat()]
    for table, stamps in _STAMPS:
        columns = [sa.func.count(), sa.func.max(table.c.id),
                   *(sa.func.max(table.c[s]) for s in stamps)]
        parts.append(f"{table.name}:" + ",".join(map(str, conn.execute(
            sa.select(*columns)).one())))
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


class PageCache:
    """A small LRU of rendered pages keyed on (name, parameters, data fingerprint).

    A page is whatever its ``render`` returns: the HTML, or the HTML with what it shows
    (`api.audit_trail.Shown`); one name always renders the same kind.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._pages: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, store: Store, name: str, params: Hashable, render: Callable[[], T]) -> T:
        """The cached page, or ``render()`` when the data changed or it was never made."""
        with store.connect() as conn:
            key = (store.url, name, params, fingerprint(conn))
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                found: T = self._pages[key]
                return found
        made = render()
        with self._lock:
            self._pages[key] = made
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return made
