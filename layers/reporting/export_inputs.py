"""Read the export frames from the store (the I/O of `layers.reporting.exports`).

`load_export` reads one export whole, in the shape of `layers.reporting.exports`, for
`layers.reporting.export_files` to write.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from layers import errors
from layers.hotspots import read as hotspots_read
from layers.hotspots.read import latest_run_id
from layers.records import read as records_read
from layers.reporting import exports
from layers.store import schema
from layers.store import scope as scopes


def load_export(conn: sa.Connection, what: str, *, run_id: int | None = None,
                scope: scopes.Scope = None) -> gpd.GeoDataFrame:
    """Read one export from the store: every row, in the shape of `layers.reporting.exports`.

    Parameters
    ----------
    conn
        An open connection to the store.
    what
        ``cells`` or ``wards`` (of a scoring run); ``places``, ``reports`` or ``activities``
        (as stored).
    run_id
        The run of ``cells`` and ``wards``; default the newest.
    scope
        Only what lies in these authorities (`layers.store.scope`); ``None`` for all.

    Raises
    ------
    layers.reporting.exports.UnknownExportError
        If ``what`` is not one of `layers.reporting.exports.EXPORTS`.
    layers.errors.NotFoundError
        If ``cells`` or ``wards`` are asked for and there is no such run, or no run yet.
    layers.errors.ParameterError
        If ``run_id`` is given for places, reports or activities, which belong to no run.
    """
    exports.check_export(what)
    if what in ("places", "reports", "activities"):
        if run_id is not None:
            msg = (f"run_id: {what} are exported as stored now and belong to no scoring run; "
                   "run_id applies to cells and wards")
            raise errors.ParameterError(msg)
        if what == "places":
            return exports.places_frame(records_read.places(conn, scope=scope).rows)
        if what == "reports":
            return exports.reports_frame(_linked_rows(conn, schema.reports, scope))
        return exports.activities_frame(_linked_rows(conn, schema.activities, scope))
    run = hotspots_read.run(conn, _run_id(conn, what, run_id))
    if what == "cells":
        rows = hotspots_read.cells(conn, run_id=run["id"], scope=scope).rows
        return exports.cells_frame(rows, as_of=run["as_of"])
    _, ranking = hotspots_read.ward_ranking(conn, run_id=run["id"], scope=scope)
    areas, _ = records_read.areas(conn, scope=scope)
    return exports.wards_frame(ranking, areas, run_id=run["id"], as_of=run["as_of"])


def _linked_rows(conn: sa.Connection, table: sa.Table, scope: scopes.Scope) -> pd.DataFrame:
    """Every report or activity (in ``scope``) in id order, with ``place_ref``: its place's id.

    A record linked to an erased place, or to a place out of ``scope``, is exported
    unlinked, as every read shows it.
    """
    p = schema.places
    live = sa.and_(p.c.id == table.c.place_id, p.c.erased_at.is_(None),
                   *scopes.where(p.c.ward_code, scope))
    stmt = (sa.select(table, p.c.source_id.label("place_ref"))
            .select_from(table.outerjoin(p, live))
            .where(*scopes.where(table.c.ward_code, scope)).order_by(table.c.id))
    result = conn.execute(stmt)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _run_id(conn: sa.Connection, what: str, run_id: int | None) -> int:
    """``run_id``, or else the newest run; `NotFoundError` with a hint when there is none."""
    if run_id is not None:
        return run_id
    newest = latest_run_id(conn)
    if newest is None:
        msg = f"no scoring run yet, so no {what} to export: run `placerisk score` first"
        raise errors.NotFoundError(msg)
    return int(newest)
