"""Back up and restore a store: SQLite's online backup API, or pg_dump/pg_restore.

A SQLite backup is one consistent snapshot of the last committed state, taken while the
store keeps working (WAL mode: writers are not held up), written as a self-contained SQLite
file. A PostgreSQL backup is a ``pg_dump --format=custom`` archive of the store's database,
or of its schema only when the URL sets ``options=-csearch_path=SCHEMA``.

`restore` checks the file before it touches the target: a SQLite backup must pass
``PRAGMA integrity_check`` and carry a schema revision this placerisk knows; a pg_dump archive
must hold placerisk's tables. The target must hold no data (``force=True`` overrides); on
PostgreSQL it must be the same schema name as the backup's (``public`` for a whole-database
backup) in an otherwise empty database or schema, since pg_restore recreates the objects
where they were. The restore is one transaction on both back ends, and older backups are
migrated to the current schema afterwards.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from layers.store import files as _files
from layers.store import schema
from layers.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    Store,
    known_revisions,
    upgrade_schema,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
BOOKKEEPING = ("alembic_version", "settings", "audit_head")  # in every migrated store, even empty


class BackupError(RuntimeError):
    """A backup cannot be taken, or a file cannot (or may not) be restored."""


@dataclass
class BackupInfo:
    """What a backup or restore handled: the file, its schema revision and its rows."""

    path: Path
    dialect: str
    revision: str
    size_bytes: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


def backup(store: Store, path: str | os.PathLike[str], *, force: bool = False) -> BackupInfo:
    """Write a backup of ``store`` to ``path`` while the store stays in use.

    ``counts`` of the result are the rows in the backup (SQLite: read back from the file;
    PostgreSQL: counted in the snapshot pg_dump reads). The file appears only when complete,
    readable by its owner only (0600).

    Raises
    ------
    BackupError
        When ``path`` exists and is not empty (unless ``force``), or the backup fails.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size > 0 and not force:
        msg = f"{path} already exists; choose another file name, or pass --force to replace it"
        raise BackupError(msg)
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _files.create_private(partial)  # 0600 before a byte is written; SQLite, pg_dump keep it
        if store.dialect == "sqlite":
            revision, counts = _sqlite_backup(_sqlite_file(store), partial)
        else:
            revision, counts = _pg_backup(store, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(path, store.dialect, revision, path.stat().st_size,
                      time.perf_counter() - started, counts)


def restore(path: str | os.PathLike[str], target: Store, *, force: bool = False
            ) -> BackupInfo:
    """Replace the contents of ``target`` with the backup at ``path``, in one transaction.

    Raises
    ------
    BackupError
        When the file is not a usable placerisk backup for this kind of store, or the target
        holds data and ``force`` is false; the target is then left as it was.
    """
    path = Path(path)
    started = time.perf_counter()
    kind = backup_kind(path)
    if kind != target.dialect:
        msg = (f"{path} is a {kind} backup but the target {target.url} is {target.dialect}; "
               f"restore it into a {kind} store (--db)")
        raise BackupError(msg)
    if kind == "sqlite":
        revision = _sqlite_restore(path, target, force=force)
    else:
        revision = _pg_restore(path, target, force=force)
    target.engine.dispose()  # no pooled connection may outlive the old contents
    upgrade_schema(target)
    return BackupInfo(path, kind, revision, path.stat().st_size,
                      time.perf_counter() - started, table_counts(target))


def backup_kind(path: Path) -> str:
    """``"sqlite"`` or ``"postgresql"``, from the first bytes of a backup file.

    Raises
    ------
    BackupError
        When the file is missing or neither a SQLite database nor a pg_dump custom archive.
    """
    if not path.is_file():
        msg = f"{path}: no such file; give the path of a file written by `placerisk backup`"
        raise BackupError(msg)
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    msg = (f"{path} is not a placerisk backup: neither a SQLite database nor a pg_dump "
           "custom-format archive; give a file written by `placerisk backup`")
    raise BackupError(msg)


def table_counts(store: Store) -> dict[str, int]:
    """Rows in each placerisk table the store has (tables in dependency order)."""
    with store.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {t.name: int(conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
                for t in schema.metadata.sorted_tables if t.name in present}


def _refuse_data(target: Store, force: bool) -> None:
    if force:
        return
    holding = {k: n for k, n in table_counts(target).items() if n and k not in BOOKKEEPING}
    if holding:
        shown = ", ".join(f"{k} {n}" for k, n in holding.items())
        msg = (f"the target {target.url} already holds data ({shown}); restore into a new "
               "database, or pass --force to replace everything in it (its audit log too)")
        raise BackupError(msg)


def _check_revision(revision: str | None, path: Path) -> str:
    if revision is None:
        msg = f"{path} is not a placerisk backup: it has no schema revision (alembic_version)"
        raise BackupError(msg)
    if revision not in known_revisions():
        msg = (f"{path} is at schema revision {revision}, which this placerisk does not know "
               "(made by a newer version?); upgrade placerisk, then restore again")
        raise BackupError(msg)
    return revision


# --- SQLite ------------------------------------------------------------------------------

def _sqlite_file(store: Store) -> str:
    database = store.engine.url.database
    if not database or database == ":memory:":
        msg = f"{store.url} is not a SQLite file; only file stores can be backed up"
        raise BackupError(msg)
    return database


def _sqlite_backup(source: str, partial: Path) -> tuple[str, dict[str, int]]:
    """Copy ``source`` in one backup step (a consistent snapshot) and verify the copy."""
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    with (closing(sqlite3.connect(source, timeout=timeout)) as src,
          closing(sqlite3.connect(partial, timeout=timeout)) as dst):
        src.backup(dst)  # pages=-1: one read transaction, so one committed state
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        return _sqlite_contents(dst, partial)


def _sqlite_contents(conn: sqlite3.Connection, path: Path) -> tuple[str, dict[str, int]]:
    """Check integrity and revision of a SQLite backup; return them with its row counts."""
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master "
                                             "WHERE type = 'table'")}
        revision = (conn.execute("SELECT version_num FROM alembic_version").fetchone()
                    if "alembic_version" in tables else None)
    except sqlite3.DatabaseError as exc:
        msg = f"{path} is not a placerisk backup: SQLite cannot read it ({exc})"
        raise BackupError(msg) from exc
    if problems != ["ok"]:
        msg = (f"{path} is damaged (integrity_check: {'; '.join(problems[:3])}); "
               "restore an older backup")
        raise BackupError(msg)
    checked = _check_revision(revision[0] if revision else None, path)
    counts = {t.name: int(conn.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0])
              for t in schema.metadata.sorted_tables if t.name in tables}
    return checked, counts


def _sqlite_restore(path: Path, target: Store, *, force: bool) -> str:
    """Check the backup, then copy it into the target through SQLite (WAL-safe, atomic)."""
    database = _sqlite_file(target)
    if Path(database).resolve() == path.resolve():
        msg = f"{path} is the target database itself; give another --db"
        raise BackupError(msg)
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as src:
        revision, _ = _sqlite_contents(src, path)
        _refuse_data(target, force)
        target.engine.dispose()
        timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
        with closing(sqlite3.connect(database, timeout=timeout)) as dst:
            try:
                src.backup(dst)  # one write transaction on the target, WAL kept
            except sqlite3.Error as exc:
                msg = f"cannot restore into {target.url}: {exc}; stop the server and retry"
                raise BackupError(msg) from exc
    return revision


# --- PostgreSQL --------------------------------------------------------------------------

def _pg_conninfo(url: sa.URL) -> tuple[str, dict[str, str], str | None]:
    """A libpq conninfo, the environment (password) and the search_path schema of ``url``."""
    params: dict[str, object] = {"host": url.host, "port": url.port, "user": url.username,
                                 "dbname": url.database}
    found = None
    for key, value in url.query.items():
        text = value if isinstance(value, str) else value[0]
        match = re.search(r"search_path\s*=\s*([^\s,]+)", text) if key == "options" else None
        if match:
            found = match.group(1).strip('"')
        elif key != "options":
            params[key] = text
    quoted = (f"{k}={_libpq_quote(v)}" for k, v in params.items() if v is not None)
    env = {**os.environ}  # handed on to pg_dump, a child process: no setting is read here
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return " ".join(quoted), env, found


def _libpq_quote(value: object) -> str:
    r"""Quote one conninfo value.

    Examples
    --------
    >>> print(_libpq_quote("it's"))
    'it\'s'
    """
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _pg_tool(args: list[str], env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL client tool; its standard output, or a BackupError naming the fix."""
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        msg = (f"{args[0]} not found; install the PostgreSQL client tools of the server's "
               "version (Debian: apt install postgresql-client)")
        raise BackupError(msg) from exc
    if done.returncode != 0:
        msg = f"{args[0]} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}"
        raise BackupError(msg)
    return done.stdout


def _pg_backup(store: Store, partial: Path) -> tuple[str, dict[str, int]]:
    """pg_dump the store from an exported snapshot, counting rows in that same snapshot."""
    conninfo, env, search_path = _pg_conninfo(store.engine.url)
    only = ["--schema", f'"{search_path}"'] if search_path else []
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
            present = set(sa.inspect(conn).get_table_names())
            revision = (conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
                        if "alembic_version" in present else None)
            counts = {t.name: int(conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
                      for t in schema.metadata.sorted_tables if t.name in present}
            _pg_tool(["pg_dump", "--format=custom", f"--file={partial}",
                      f"--snapshot={snapshot}", *only, f"--dbname={conninfo}"], env)
    return _check_revision(revision, partial), counts


def _pg_archive(path: Path) -> tuple[str, str]:
    """The schema holding placerisk's tables in a pg_dump archive, and its revision."""
    try:
        toc = _pg_tool(["pg_restore", "--list", str(path)])
        data = _pg_tool(["pg_restore", "--data-only", "--table=alembic_version",
                           "--file=-", str(path)])
    except BackupError as exc:
        msg = f"{path} is not a readable pg_dump archive: {exc}"
        raise BackupError(msg) from exc
    table = re.search(r"^\d+; \d+ \d+ TABLE (\S+) alembic_version ", toc, re.MULTILINE)
    copied = re.search(r"^COPY \S+ \(version_num\) FROM stdin;\n(\S+)\n", data, re.MULTILINE)
    if table is None:
        msg = f"{path} is not a placerisk backup: the archive has no alembic_version table"
        raise BackupError(msg)
    return table.group(1), _check_revision(copied.group(1) if copied else None, path)


def _pg_restore(path: Path, target: Store, *, force: bool) -> str:
    """pg_restore the archive over the target's (empty) tables in one transaction."""
    dumped, revision = _pg_archive(path)
    with target.connect() as conn:
        current = conn.scalar(sa.text("SELECT current_schema()"))
    if dumped != current:
        msg = (f"{path} holds schema {dumped} but the target {target.url} uses schema "
               f"{current}; restore into a store whose search_path is {dumped} (or into an "
               "empty database, for a whole-database backup)")
        raise BackupError(msg)
    _refuse_data(target, force)
    target.engine.dispose()
    conninfo, env, _ = _pg_conninfo(target.engine.url)
    _pg_tool(["pg_restore", "--single-transaction", "--exit-on-error", "--clean",
              "--if-exists", "--no-owner", "--no-privileges", f"--dbname={conninfo}",
              str(path)], env)
    return revision
