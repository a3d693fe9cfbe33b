"""An import's writes, staged in temporary tables and applied in one short transaction.

An import reads and checks its file in chunks. Each chunk commits what it will write into
temporary tables of its own connection (private to it: no other connection sees them, and
on SQLite writing them takes no lock on the store), so the store's write lock is free while
the file is parsed, located and compared, however long that takes. At the end `Staging.apply`
takes the write lock once and moves everything in with a handful of set-based statements
(``INSERT ... SELECT``, ``UPDATE ... FROM``): for the user the import is still all or
nothing, and readers see either none of it or all of it.

Between a chunk's snapshot and the end another writer may have changed a row the import
compared. `Staging.apply` checks under the write lock that every row it updates is still
as it was read (its ``updated_at``), and that no row it inserts has appeared since; if
not it raises `StaleImport` and writes nothing, and the importer starts again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from layers.store import schema

_EXTRA = ("_seq", "_target_id", "_seen")


class StaleImport(RuntimeError):
    """Rows the import compared were changed by another writer before it could apply."""


class Staging:
    """Temporary tables of one connection holding what an import will write.

    Create with `staging`, which drops the tables again whatever happens.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._meta = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._keys: dict[str, str] = {}
        self._columns: dict[str, list[str]] = {}
        self._replace: set[str] = set()
        self._seq = 0

    def _staged(self, table: sa.Table) -> sa.Table:
        if table.name not in self._tables:
            cols = [sa.Column(c.name, c.type) for c in table.columns if c.name != "id"]
            cols += [sa.Column("_seq", sa.Integer), sa.Column("_target_id", sa.Integer),
                     sa.Column("_seen", table.c.updated_at.type if "updated_at" in table.c
                               else sa.DateTime(timezone=True))]
            if table is schema.place_levels:  # a new place has no id until it is applied
                cols.append(sa.Column("place_source_id", schema.places.c.source_id.type))
            staged = sa.Table(f"staged_{table.name}", self._meta, *cols,
                              prefixes=["TEMPORARY"])
            staged.create(self.conn)
            self._tables[table.name] = staged
        return self._tables[table.name]

    def _put(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        staged = self._staged(table)
        names = set(staged.c.keys())
        out = []
        for row in rows:
            self._seq += 1
            out.append({k: v for k, v in row.items() if k in names} | {"_seq": self._seq})
        self.conn.execute(sa.insert(staged), out)

    def upsert(self, table: sa.Table, key: str, columns: list[str],
               inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
        """Stage the rows `layers.store.engine.plan_upsert` planned for ``table``."""
        self._keys[table.name] = key
        self._columns[table.name] = list(columns)
        self._put(table, inserts)
        self._put(table, [{**u, "_target_id": u["_id"]} for u in updates])

    def insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Stage plain inserts (rows of a history table, say)."""
        self._put(table, rows)

    def replace(self, table: sa.Table, key: str, rows: list[dict[str, Any]]) -> None:
        """Stage rows that replace any stored row with the same ``key`` (the last one wins)."""
        self._keys[table.name] = key
        self._replace.add(table.name)
        self._put(table, rows)

    def apply(self, conn: sa.Connection) -> None:
        """Move everything staged into the store, inside ``conn``'s write transaction.

        Raises
        ------
        StaleImport
            When another writer changed or added a row this import compared; nothing is
            written (the caller rolls back).
        """
        for name, staged in self._tables.items():
            target = schema.metadata.tables[name]
            if name in self._replace:
                self._apply_replace(conn, target, staged)
            elif name in self._keys:
                self._check_fresh(conn, target, staged)
                self._apply_upsert(conn, target, staged)
        for name, staged in self._tables.items():
            if name not in self._keys:
                self._apply_history(conn, schema.metadata.tables[name], staged)

    def _check_fresh(self, conn: sa.Connection, target: sa.Table, staged: sa.Table) -> None:
        key = self._keys[target.name]
        changed = int(conn.scalar(
            sa.select(sa.func.count()).select_from(staged)
            .outerjoin(target, target.c.id == staged.c._target_id)
            .where(staged.c._target_id.is_not(None),
                   sa.or_(target.c.id.is_(None), target.c.updated_at != staged.c._seen)))
                      or 0)
        added = int(conn.scalar(
            sa.select(sa.func.count()).select_from(staged)
            .join(target, target.c[key] == staged.c[key])
            .where(staged.c._target_id.is_(None))) or 0)
        if changed or added:
            raise StaleImport(f"{changed + added} {target.name} changed while the file was read")

    def _apply_upsert(self, conn: sa.Connection, target: sa.Table, staged: sa.Table) -> None:
        key, columns = self._keys[target.name], self._columns[target.name]
        new = [key, *columns, "created_at", "updated_at"]
        conn.execute(sa.insert(target).from_select(
            new, sa.select(*[staged.c[c] for c in new])
            .where(staged.c._target_id.is_(None)).order_by(staged.c._seq)))
        conn.execute(sa.update(target).where(target.c.id == staged.c._target_id)
                     .values({c: staged.c[c] for c in [*columns, "updated_at"]}))

    def _apply_replace(self, conn: sa.Connection, target: sa.Table, staged: sa.Table) -> None:
        key = self._keys[target.name]
        columns = [c.name for c in target.columns if c.name != "id"]
        conn.execute(sa.delete(target).where(target.c[key].in_(sa.select(staged.c[key]))))
        last = sa.select(sa.func.max(staged.c._seq)).group_by(staged.c[key])
        conn.execute(sa.insert(target).from_select(
            columns, sa.select(*[staged.c[c] for c in columns])
            .where(staged.c._seq.in_(last)).order_by(staged.c._seq)))

    def _apply_history(self, conn: sa.Connection, target: sa.Table, staged: sa.Table) -> None:
        """Rows of a history table; a ``place_source_id`` is resolved to the place's id."""
        if target is schema.place_levels:
            places = schema.places
            columns = [c.name for c in target.columns if c.name not in ("id", "place_id")]
            conn.execute(sa.insert(target).from_select(
                ["place_id", *columns],
                sa.select(places.c.id, *[staged.c[c] for c in columns])
                .join(places, places.c.source_id == staged.c.place_source_id)
                .order_by(staged.c._seq)))
            return
        columns = [c.name for c in target.columns if c.name != "id"]
        conn.execute(sa.insert(target).from_select(
            columns, sa.select(*[staged.c[c] for c in columns]).order_by(staged.c._seq)))

    def drop(self) -> None:
        """Drop the temporary tables (they vanish with the connection anyway)."""
        for staged in self._tables.values():
            with self.conn.begin():
                staged.drop(self.conn, checkfirst=True)
        self._tables.clear()


@contextmanager
def staging(conn: sa.Connection) -> Iterator[Staging]:
    """A `Staging` on ``conn`` whose tables are dropped at the end."""
    stage = Staging(conn)
    try:
        yield stage
    finally:
        if conn.in_transaction():
            conn.rollback()
        stage.drop()
