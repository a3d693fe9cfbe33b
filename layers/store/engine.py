"""The placerisk store: a SQLite file by default, PostgreSQL when given a URL.

All database I/O of the domain goes through this module. The schema is managed by Alembic
migrations (``layers/store/migrations``), applied automatically the first time a store is opened
and by ``placerisk db upgrade``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from geo import h3index
from geo.wards import WardIndex
from layers.store import files as _files
from layers.store import schema

DEFAULT_DB = "placerisk.db"
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


class StoreError(RuntimeError):
    """The store cannot be opened or is in a state the operation cannot use."""


def resolve_url(db: str | os.PathLike[str] | None = None) -> str:
    """Turn ``--db`` into a SQLAlchemy URL; ``None`` is `DEFAULT_DB` in the working folder.

    The environment is not read here: ``PLACERISK_DB`` is `api.settings`'s to read, and
    its callers pass on the database it names.

    Examples
    --------
    >>> resolve_url("postgresql://postgres@127.0.0.1:5432/test")
    'postgresql+psycopg://postgres@127.0.0.1:5432/test'
    >>> resolve_url("/tmp/x.db")
    'sqlite:////tmp/x.db'
    """
    target = str(db) if db else DEFAULT_DB
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    if "://" in target:
        return target
    return "sqlite:///" + str(Path(target).expanduser().resolve())


_IMMEDIATE = "placerisk_immediate"  # execution option of the connections `Store.begin` opens


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # pysqlite must not open transactions on its own (it would BEGIN DEFERRED before the first
    # write only); `_sqlite_begin` emits every BEGIN instead (SQLAlchemy's pysqlite recipe).
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    """Begin a SQLite transaction: IMMEDIATE for `Store.begin`, deferred for reads.

    A write transaction that starts deferred takes its snapshot at its first read and
    fails at once with "database is locked" when another writer committed in between;
    BEGIN IMMEDIATE takes the write lock up front and waits up to the busy timeout for it.
    In WAL mode readers never wait, so reads stay deferred.
    """
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass
class Store:
    """An open store. Create with `open_store`."""

    engine: sa.Engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """Open a write transaction: everything inside commits together or not at all.

        On SQLite it begins IMMEDIATE: it waits (up to the busy timeout) until no other
        writer holds the database, then holds the write lock until it ends.
        """
        with self.engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn

    def connect(self) -> sa.Connection:
        """Open a connection for reading (one consistent snapshot until it closes)."""
        return self.engine.connect()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        """Read one value of the settings table."""
        with self.connect() as conn:
            value = conn.scalar(sa.select(schema.settings.c.value).where(
                schema.settings.c.key == key))
        return default if value is None else value

    def set_setting(self, key: str, value: str, conn: sa.Connection | None = None) -> None:
        """Write one value of the settings table."""
        table = schema.settings
        if conn is None:
            with self.begin() as own:
                self.set_setting(key, value, own)
            return
        conn.execute(sa.delete(table).where(table.c.key == key))
        conn.execute(sa.insert(table).values(key=key, value=value))


@contextmanager
def begin_on(conn: sa.Connection) -> Iterator[sa.Connection]:
    """A write transaction on an open connection, like `Store.begin` (IMMEDIATE on SQLite)."""
    conn.execution_options(**{_IMMEDIATE: True})
    try:
        with conn.begin():
            yield conn
    finally:
        conn.execution_options(**{_IMMEDIATE: False})


def open_store(db: str | os.PathLike[str] | None = None, *, upgrade: bool = True) -> Store:
    """Open (and on first use create and migrate) the store.

    Parameters
    ----------
    db
        A SQLite file path or a ``postgresql://`` URL; ``None`` is ``placerisk.db`` in the
        working directory (`resolve_url`; ``PLACERISK_DB`` is read by `api.settings`).
    upgrade
        Apply pending migrations.
    """
    url = resolve_url(db)
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    store = Store(engine)
    try:
        with _private_sqlite(engine), engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        msg = f"cannot open the database {store.url}: {exc.orig}"
        raise StoreError(msg) from exc
    if upgrade:
        upgrade_schema(store)
        if store.get_setting("h3_resolution") is None:
            store.set_setting("h3_resolution", str(h3index.DEFAULT_RESOLUTION))
    return store


def _private_sqlite(engine: sa.Engine) -> AbstractContextManager[None]:
    """Keep a SQLite store's files to their owner: created 0600, existing ones closed to others.

    SQLite creates a new database file under the umask, but gives its ``-wal``, ``-shm`` and
    ``-journal`` files the database file's own mode, so the database file decides for all.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return nullcontext()
    _files.close_to_others(database, f"{database}-wal", f"{database}-shm")
    return _files.private_umask()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration the code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every migration revision the code knows (a database at any of them can be upgraded)."""
    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def current_revision(store: Store) -> str | None:
    """The migration the database is at (``None`` for an empty database)."""
    with store.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(store: Store) -> str:
    """Apply pending migrations; return the revision reached."""
    head = head_revision()
    if current_revision(store) == head:
        return head
    cfg = _alembic_config()
    with store.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


# --- writing records ---------------------------------------------------------------------

_IN_BATCH = 900  # stays under SQLite's bound-parameter limit
_T = TypeVar("_T")


def batched(values: list[_T], size: int = _IN_BATCH) -> Iterator[list[_T]]:
    """Yield successive slices of ``values``."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def py_value(value: object) -> object:
    """Turn numpy/pandas scalars and missing values into plain Python for the driver."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, object]]:
    """Rows of ``frame`` as driver-ready dicts of ``columns``."""
    cols = {c: [py_value(v) for v in frame[c].tolist()] for c in columns}
    return [dict(zip(columns, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


@dataclass
class UpsertCounts:
    """What an upsert did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def fetch_by_keys(conn: sa.Connection, table: sa.Table, key: str, keys: list[Any],
                  columns: list[str]) -> pd.DataFrame:
    """Existing rows of ``table`` whose ``key`` is in ``keys``."""
    cols = [table.c[c] for c in dict.fromkeys(["id", key, *columns])]
    parts = [
        pd.DataFrame(conn.execute(sa.select(*cols).where(table.c[key].in_(chunk))).mappings()
                     .all(), columns=[c.name for c in cols])
        for chunk in batched(keys)
    ]
    if not parts:
        return pd.DataFrame(columns=[c.name for c in cols])
    return pd.concat(parts, ignore_index=True)


@dataclass
class UpsertPlan:
    """What an upsert will write: rows to insert and rows to update, from one snapshot.

    ``updates`` rows carry the stored row's ``_id`` and the ``_seen`` ``updated_at`` they were
    compared with, so that a later writer can tell whether the row changed since.
    """

    counts: UpsertCounts
    existing: pd.DataFrame
    changed: pd.DataFrame
    inserts: list[dict[str, Any]]
    updates: list[dict[str, Any]]


def plan_upsert(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, *, key: str,
                columns: list[str], keep: pd.DataFrame | None = None) -> UpsertPlan:
    """Compare ``frame`` with the stored rows and plan the inserts and updates (writes nothing).

    Parameters are those of `upsert`.
    """
    now = utcnow()
    keys = frame[key].tolist()
    existing = fetch_by_keys(conn, table, key, keys, [*columns, "updated_at"])
    if keep is not None:
        frame = keep_stored(frame, existing, keep, key=key)
    new_rows = records(frame, [key, *columns])
    old = {r[key]: r for r in records(existing, ["id", key, "updated_at", *columns])}
    inserts, updates = [], []
    for row in new_rows:
        before = old.get(row[key])
        if before is None:
            inserts.append({**row, "created_at": now, "updated_at": now})
        elif any(not _same(before[c], row[c]) for c in columns):
            updates.append({**row, "_id": before["id"], "_seen": before["updated_at"],
                            "updated_at": now})
    counts = UpsertCounts(len(inserts), len(updates), len(new_rows) - len(inserts) - len(updates))
    changed = pd.DataFrame({key: [r[key] for r in inserts] + [r[key] for r in updates],
                            "change": ["inserted"] * len(inserts) + ["updated"] * len(updates)})
    return UpsertPlan(counts, existing.drop(columns="updated_at"), changed, inserts, updates)


def upsert(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, *, key: str,
           columns: list[str], keep: pd.DataFrame | None = None
           ) -> tuple[UpsertCounts, pd.DataFrame, pd.DataFrame]:
    """Insert new rows and update changed ones, matching on ``key``.

    Parameters
    ----------
    conn
        An open write transaction.
    table, key, columns
        The table, the column rows are matched on and the columns written.
    frame
        One row per record: the values to insert, and to update unless ``keep`` says not.
    keep
        Booleans aligned with ``frame``, one column per column of ``columns`` that a stored
        row may keep: where true, a row already stored keeps its value (the file did not give
        one). A new row is inserted with ``frame``'s value either way.

    Returns
    -------
    (UpsertCounts, pandas.DataFrame, pandas.DataFrame)
        The counts, the existing rows before the change (for history) and the keys that
        were inserted or updated.
    """
    plan = plan_upsert(conn, table, frame, key=key, columns=columns, keep=keep)
    if plan.inserts:
        conn.execute(sa.insert(table), plan.inserts)
    if plan.updates:
        stmt = (sa.update(table).where(table.c.id == sa.bindparam("_id"))
                .values({c: sa.bindparam(c) for c in [*columns, "updated_at"]}))
        conn.execute(stmt, [{k: v for k, v in u.items() if k not in (key, "_seen")}
                            for u in plan.updates])
    return plan.counts, plan.existing, plan.changed


def keep_stored(frame: pd.DataFrame, existing: pd.DataFrame, keep: pd.DataFrame, *,
                key: str) -> pd.DataFrame:
    """``frame`` with the stored value put back wherever ``keep`` holds for a stored row.

    Examples
    --------
    >>> new = pd.DataFrame({"k": ["a", "b"], "notes": [None, None]})
    >>> old = pd.DataFrame({"id": [1], "k": ["a"], "notes": ["kept"]})
    >>> keep_stored(new, old, pd.DataFrame({"notes": [True, True]}), key="k")["notes"].tolist()
    ['kept', None]
    """
    out = frame.copy()
    old = existing.drop_duplicates(key).set_index(key).reindex(frame[key].to_numpy())
    found = old["id"].notna().to_numpy()
    for column in keep.columns:
        mask = keep[column].to_numpy(dtype=bool) & found
        if mask.any():
            values = out[column].to_numpy(dtype=object, copy=True)
            values[mask] = old[column].to_numpy(dtype=object)[mask]
            out[column] = pd.Series(values, index=out.index, dtype=object)
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b), rtol=0, atol=1e-12))
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return bool(a == b)


# --- areas -------------------------------------------------------------------------------

def resolution(store_or_conn: Store | sa.Connection) -> int:
    """The H3 resolution every located row of this store is indexed at."""
    table = schema.settings
    query = sa.select(table.c.value).where(table.c.key == "h3_resolution")
    if isinstance(store_or_conn, Store):
        with store_or_conn.connect() as conn:
            value = conn.scalar(query)
    else:
        value = store_or_conn.scalar(query)
    return int(value) if value is not None else h3index.DEFAULT_RESOLUTION


def read_areas(conn: sa.Connection) -> gpd.GeoDataFrame:
    """All loaded areas as a GeoDataFrame in EPSG:4326."""
    t = schema.areas
    rows = conn.execute(sa.select(t).order_by(t.c.authority_code, t.c.code)).mappings().all()
    frame = pd.DataFrame(rows, columns=[c.name for c in t.columns])
    geoms = shapely.from_wkb(frame["geometry_wkb"].to_numpy()) if len(frame) else []
    return gpd.GeoDataFrame(frame.drop(columns="geometry_wkb"), geometry=list(geoms),
                            crs="EPSG:4326")


def ward_index(conn: sa.Connection) -> WardIndex | None:
    """A point-in-ward index over every loaded area, or ``None`` when none are loaded."""
    areas = read_areas(conn)
    if areas.empty:
        return None
    return WardIndex(areas["code"].to_numpy(), areas.geometry.to_numpy(),
                     resolution=resolution(conn))


@dataclass
class AreaLoad:
    """What loading a boundary set did."""

    authorities: dict[str, str]
    replaced: dict[str, list[str]]
    wards: int
    reassigned: dict[str, int]
    outside: dict[str, int]


def replace_areas(store: Store, areas: gpd.GeoDataFrame, *, source: str,
                  allow_older: bool = False) -> AreaLoad:
    """Store wards, replacing older vintages of the same authorities, and re-assign wards.

    Everything happens in one transaction: either the new boundaries are in place and every
    stored record points at them, or nothing changed.
    """
    t = schema.areas
    now = utcnow()
    with store.begin() as conn:
        replaced = _check_vintages(conn, areas, allow_older)
        conn.execute(sa.delete(t).where(t.c.authority_code.in_(list(replaced))))
        rows = [
            {"code": r.code, "name": r.name, "authority_code": r.authority_code,
             "authority_name": r.authority_name, "vintage": r.vintage,
             "geometry_wkb": shapely.to_wkb(r.geometry), "source": source, "loaded_at": now}
            for r in areas.itertuples()
        ]
        conn.execute(sa.insert(t), rows)
        reassigned, outside = reassign_wards(conn)
    names = dict(zip(areas["authority_code"], areas["authority_name"], strict=True))
    return AreaLoad(names, replaced, len(rows), reassigned, outside)


def _check_vintages(conn: sa.Connection, areas: gpd.GeoDataFrame, allow_older: bool
                    ) -> dict[str, list[str]]:
    t = schema.areas
    replaced: dict[str, list[str]] = {}
    for code, new in areas.groupby("authority_code")["vintage"].first().items():
        old = conn.scalars(sa.select(t.c.vintage).where(t.c.authority_code == code)
                           .distinct()).all()
        newer = [v for v in old if _vintage_key(v) > _vintage_key(new)]
        if newer and not allow_older:
            msg = (
                f"authority {code} already has {', '.join(newer)} boundaries, newer than the "
                f"{new} ones being loaded; pass --allow-older to replace them anyway"
            )
            raise StoreError(msg)
        replaced[str(code)] = sorted(old)
    return replaced


def _vintage_key(vintage: str) -> tuple[int, str]:
    return (int(vintage), vintage) if vintage.isdigit() else (0, vintage)


def reassign_wards(conn: sa.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Recompute the ward of every located record; return changes and outside counts."""
    index = ward_index(conn)
    changed: dict[str, int] = {}
    outside: dict[str, int] = {}
    for table in schema.LOCATED_TABLES:
        rows = pd.DataFrame(conn.execute(
            sa.select(table.c.id, table.c.lat, table.c.lng, table.c.h3_cell, table.c.ward_code)
            .where(table.c.h3_cell.is_not(None))).all(),
            columns=["id", "lat", "lng", "h3_cell", "ward_code"])
        if rows.empty:
            changed[table.name], outside[table.name] = 0, 0
            continue
        cells = h3index.str_to_cells(rows["h3_cell"].to_numpy())
        lat, lng = rows["lat"].to_numpy(float), rows["lng"].to_numpy(float)
        wards = (index.assign(lat, lng, cells=cells) if index is not None
                 else np.full(len(rows), None, dtype=object))
        diff = rows["ward_code"].to_numpy(dtype=object) != wards
        diff |= pd.isna(rows["ward_code"]).to_numpy() != pd.isna(wards)
        updates = [{"_id": int(i), "ward_code": w, "outside_areas": w is None}
                   for i, w in zip(rows["id"].to_numpy()[diff], wards[diff], strict=True)]
        if updates:
            conn.execute(sa.update(table).where(table.c.id == sa.bindparam("_id"))
                         .values(ward_code=sa.bindparam("ward_code"),
                                 outside_areas=sa.bindparam("outside_areas")), updates)
        changed[table.name] = len(updates)
        outside[table.name] = int(pd.isna(wards).sum())
    return changed, outside
