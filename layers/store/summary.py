"""What the store holds: the figures behind ``placerisk status`` (read-only store access)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from layers.store import schema
from layers.store.engine import Store, resolution

_COUNTED = {
    "places": schema.places,
    "reports": schema.reports,
    "activities": schema.activities,
    "incidents": schema.incidents,
}


def status(store: Store) -> dict[str, Any]:
    """Collect counts by kind, level, type, authority and ward, plus boundaries and imports.

    Returns a JSON-ready dict.
    """
    with store.connect() as conn:
        return {
            "database": store.url,
            "h3_resolution": resolution(conn),
            "totals": {name: _count(conn, t) for name, t in _COUNTED.items()},
            "places_by_level": _by(conn, schema.places, schema.places.c.mace_level),
            "activities_by_type": _by(conn, schema.activities,
                                      schema.activities.c.activity_type),
            "incidents_by_crime_type": _by(conn, schema.incidents,
                                           schema.incidents.c.crime_type),
            "outside_every_boundary": {name: _count(conn, t, t.c.outside_areas.is_(True))
                                       for name, t in _COUNTED.items()},
            "without_location": {name: _count(conn, t, t.c.h3_cell.is_(None))
                                 for name, t in _COUNTED.items()},
            "boundaries": _boundaries(conn),
            "by_authority": _by_authority(conn),
            "by_ward": _by_ward(conn),
            "postcodes": _count(conn, schema.postcodes),
            "last_imports": _last_imports(conn),
        }


def _live(table: sa.Table) -> sa.ColumnElement[bool]:
    """Leave erased places out (`layers.access.review_store`); other tables have no erased rows."""
    return table.c.erased_at.is_(None) if "erased_at" in table.c else sa.true()


def _count(conn: sa.Connection, table: sa.Table, where: Any = None) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(_live(table))
    if where is not None:
        query = query.where(where)
    return int(conn.scalar(query) or 0)


def _by(conn: sa.Connection, table: sa.Table, column: sa.Column[Any]) -> dict[str, int]:
    rows = conn.execute(sa.select(column, sa.func.count()).select_from(table)
                        .where(_live(table)).group_by(column)
                        .order_by(sa.func.count().desc(), column)).all()
    return {str(key): int(n) for key, n in rows}


def _boundaries(conn: sa.Connection) -> list[dict[str, Any]]:
    t = schema.areas
    rows = conn.execute(
        sa.select(t.c.authority_code, t.c.authority_name, t.c.vintage, t.c.source,
                  sa.func.count().label("wards"), sa.func.max(t.c.loaded_at).label("loaded_at"))
        .group_by(t.c.authority_code, t.c.authority_name, t.c.vintage, t.c.source)
        .order_by(t.c.authority_code)).mappings().all()
    return [{**r, "loaded_at": str(r["loaded_at"])} for r in rows]


def _ward_counts(conn: sa.Connection) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, t in _COUNTED.items():
        rows = conn.execute(sa.select(t.c.ward_code, sa.func.count())
                            .where(t.c.ward_code.is_not(None), _live(t))
                            .group_by(t.c.ward_code)).all()
        for code, n in rows:
            out.setdefault(code, {k: 0 for k in _COUNTED})[name] = int(n)
    return out


def _by_ward(conn: sa.Connection) -> list[dict[str, Any]]:
    counts = _ward_counts(conn)
    t = schema.areas
    wards = conn.execute(sa.select(t.c.code, t.c.name, t.c.authority_name)
                         .order_by(t.c.authority_name, t.c.name)).all()
    return [{"code": code, "name": name, "authority": authority,
             **counts.get(code, {k: 0 for k in _COUNTED})} for code, name, authority in wards]


def _by_authority(conn: sa.Connection) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for ward in _by_ward(conn):
        row = totals.setdefault(ward["authority"], {"authority": ward["authority"],
                                                    **{k: 0 for k in _COUNTED}})
        for k in _COUNTED:
            row[k] += ward[k]
    return list(totals.values())


def _last_imports(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    t = schema.imports
    latest = (sa.select(t.c.kind, sa.func.max(t.c.id).label("id")).group_by(t.c.kind)
              .subquery())
    rows = conn.execute(sa.select(t).join(latest, t.c.id == latest.c.id)).mappings().all()
    return {r["kind"]: {k: (str(v) if k == "finished_at" else v) for k, v in r.items()
                        if k not in ("id", "kind")} for r in rows}
