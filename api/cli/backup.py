"""``placerisk backup`` and ``placerisk restore``: a consistent copy of the store, and back.

Both are audited (a backup as an export of the database, a restore as an import), as
``cli:<login name>``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from api.cli._common import cli_user, fail, with_store
from layers.store import audit
from layers.store.backup import BackupError, BackupInfo, backup, restore
from layers.store.engine import Store


def _summary(info: BackupInfo) -> str:
    rows = ", ".join(f"{name} {n}" for name, n in info.counts.items() if n) or "no rows"
    return (f"{info.path} ({info.size_bytes / 1e6:.2f} MB, {info.dialect}, schema revision "
            f"{info.revision}, {info.seconds:.2f} s)\nrows: {rows}")


def _confirm_restore(url: str, chosen_by: str, options: dict[str, Any]) -> None:
    """Name the database a restore would replace and ask, before anything is opened.

    Consumes the ``--yes`` option. Without a terminal to ask on, and without ``--yes``, the
    restore is refused.
    """
    yes = options.pop("yes")
    target = f"{url} (chosen by {chosen_by})"
    replacing = " and replace everything in it" if options["force"] else ""
    if yes:
        click.echo(f"restoring {options['file']} into {target}", err=True)
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        fail(f"restore would write into {target}; no terminal to confirm on: "
             "pass --yes to restore without asking")
    if not click.confirm(f"Restore {options['file']} into {target}{replacing}?",
                         default=False, err=True):
        click.secho("nothing restored", fg="yellow", err=True)
        sys.exit(1)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@with_store
def backup_command(store: Store, file: Path, force: bool) -> None:
    """Write a consistent backup of the database to FILE while it stays in use.

    SQLite: the online backup API (a single self-contained SQLite file). PostgreSQL:
    pg_dump --format=custom of the database, or of the schema the URL's search_path
    names (needs pg_dump of the server's version).
    """
    try:
        info = backup(store, file, force=force)
    except BackupError as exc:
        fail(str(exc))
    audit.record(store, action="export", user_name=cli_user(), object_type="database",
                 detail=f"backup to {file.name}")
    click.echo(f"backup written: {_summary(info)}")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace a target that already holds data (its audit log too).")
@click.option("--yes", is_flag=True,
              help="Do not ask before restoring (needed without a terminal).")
@with_store(before_open=_confirm_restore)
def restore_command(store: Store, file: Path, force: bool) -> None:
    """Restore the backup FILE into the --db database, after checking the file.

    The command names the database it would replace (--db, else PLACERISK_DB, else
    placerisk.db) and asks first, unless given --yes.

    The file must pass SQLite's integrity check (or be a pg_dump archive of placerisk)
    and be at a schema revision this placerisk knows; it is migrated to the current one.
    The target must hold no data unless --force is given. PostgreSQL: restore into an
    empty database, or a store whose search_path names the schema of the backup; stop
    the server first.
    """
    try:
        info = restore(file, store, force=force)
    except BackupError as exc:
        fail(str(exc))
    audit.record(store, action="import", user_name=cli_user(), object_type="database",
                 detail=f"restored from {file.name}" + (" (--force)" if force else ""))
    click.echo(f"restored into {store.url} from {_summary(info)}")
