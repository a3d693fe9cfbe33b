"""A cheap digest of stored data: results computed from the store are kept under it.

A cached result (a rendered map, the outcome table, the guardian grid) is valid while the
tables it was computed from are unchanged. `fingerprint` reads, per table, the highest id,
the newest stamps of the small tables that are edited in place (places, areas), and the
store's write journal: every import writes a row to ``imports``, and every import, review,
erasure and purge writes an audit row (`WRITE_ACTIONS`) in the same transaction as its
changes. Placerisk adds rows only with new, higher ids; it deletes or edits rows in place
only in an import, a review, an erasure, a purge (each journaled) or in new boundaries
(which replace the area rows). So the digest changes whenever placerisk changes what a
result was computed from, and reads, with the audit rows they leave, do not change it.

Everything it reads is an index look-up: on a store of 476,000 reports it takes well under
a millisecond, where the newest ``updated_at`` of the reports alone, which no index holds,
took 90 ms (a scan of the whole table, on every request) and their count 4 ms. Changes
made behind placerisk's back (SQL typed into the database) are not seen; nor were they
before, by a fingerprint of ``updated_at`` stamps that such edits need not set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from layers.store import schema

WRITE_ACTIONS = ("import", "review", "erase", "purge", "edit")
# Columns read as the newest value of a small table whose rows are edited in place.
STAMPS: Mapping[str, tuple[str, ...]] = {
    "places": ("updated_at", "erased_at"),
    "areas": ("loaded_at",),
}


def _parts(tables: Sequence[sa.Table]) -> list[sa.ColumnElement[Any]]:
    # the highest ids and the newest stamps: ints and datetimes
    columns: list[sa.ColumnElement[Any]] = []
    for table in (*tables, schema.imports):
        columns.append(sa.select(sa.func.max(table.c.id)).scalar_subquery())
        columns += [sa.select(sa.func.max(table.c[stamp])).scalar_subquery()
                    for stamp in STAMPS.get(table.name, ())]
    log = schema.audit_log
    columns.append(sa.select(sa.func.max(log.c.id))
                   .where(log.c.action.in_(WRITE_ACTIONS)).scalar_subquery())
    return columns


def fingerprint(conn: sa.Connection, tables: Sequence[sa.Table], *, salt: str = "") -> str:
    """A short digest that changes when placerisk changes any of ``tables``.

    One statement: the highest ids, the `STAMPS` of small tables and the write journal
    (``imports`` and the audit rows of `WRITE_ACTIONS`). ``salt`` is mixed in (a date, for
    results that follow the calendar).
    """
    row = conn.execute(sa.select(*_parts(tables))).one()
    text = salt + "|" + ",".join(t.name for t in tables) + "|" + ",".join(map(str, row))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
