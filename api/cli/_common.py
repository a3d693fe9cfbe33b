"""What the ``placerisk`` commands share: the store they work on, failing, progress, reports.

Every command that works on a store takes ``--db PATH|URL`` through `with_store`, before or
after its name; without it ``PLACERISK_DB`` is used (`api.settings.env_db`), then
``placerisk.db`` in the working folder. An explicit ``--db`` always beats the environment
(`chosen_db`).
"""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from api.settings import ENV_DB, Settings, env_db
from geo.boundaries import BoundaryError
from layers.records import importer as loader
from layers.store.engine import DEFAULT_DB, StoreError, open_store, resolve_url

SHOWN_MESSAGES = 200  # rejected rows listed one by one; the rest are counted
DB_HELP = (f"SQLite file or postgresql:// URL [default: ${ENV_DB}, else {DEFAULT_DB}; "
           "an explicit --db always wins].")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` in red on stderr and exit with ``code``."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def cli_user() -> str:
    """The audit name of whoever runs the CLI."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no login name (some containers)
        return "cli:unknown"


def chosen_db(ctx: click.Context, db: str | None) -> tuple[str | None, str]:
    """The database a command works on, and what chose it, in words.

    ``--db`` given to the command or before it (to ``placerisk`` itself) wins over
    ``PLACERISK_DB``, which wins over ``placerisk.db``. Two different ``--db`` options are a
    usage error: guessing which one was meant could restore over the wrong store.
    """
    before = (ctx.obj or {}).get("db")
    if db and before and db != before:
        msg = (f"--db given twice with different values ({before} before the command, {db} "
               "after it); give it once")
        raise click.UsageError(msg, ctx)
    if db or before:
        return db or before, "--db"
    from_env = env_db()
    if from_env:
        return from_env, ENV_DB
    return None, f"the default, {DEFAULT_DB} in the working folder"


def shown_url(db: str | None) -> str:
    """The URL `open_store` would open for ``db``, password hidden (for messages).

    Examples
    --------
    >>> shown_url("postgresql://ana:secret@db.example/placerisk")
    'postgresql+psycopg://ana:***@db.example/placerisk'
    """
    import sqlalchemy as sa

    return sa.make_url(resolve_url(db)).render_as_string(hide_password=True)


def map_settings(db: str | None = None) -> Settings:
    """The settings from the environment (``db`` first), for a command that draws maps.

    ``map`` and ``serve`` read them here, once, as they start, and point the maps at their
    vendor folder: `maps.assets.use_vendor_dir` with `Settings.vendor_dir`
    (``PLACERISK_VENDOR``; by default the repository's ``vendor/``).
    """
    from maps import assets

    found = Settings.from_env(db)
    assets.use_vendor_dir(found.vendor_dir)
    return found


BeforeOpen = Callable[[str, str, dict[str, Any]], None]


def with_store(func: Callable[..., Any] | None = None, *,
               before_open: BeforeOpen | None = None) -> Callable[..., Any]:
    """Add ``--db`` to a command and pass it an open store; turn domain errors into exit 1.

    ``before_open(url, chosen_by, options)`` runs before the store is opened (or created),
    with the URL as `shown_url` gives it, what chose it (`chosen_db`) and the command's
    options: `api.cli.backup` uses it to name a restore's target and ask first.
    """
    if func is None:
        return functools.partial(with_store, before_open=before_open)

    @click.option("--db", "db", default=None, metavar="PATH|URL", help=DB_HELP)
    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx: click.Context, db: str | None, **kwargs: Any) -> Any:
        db, chosen_by = chosen_db(ctx, db)
        if before_open is not None:
            before_open(shown_url(db), chosen_by, kwargs)
        try:
            store = open_store(db)
        except StoreError as exc:
            fail(f"{exc}. Check --db or PLACERISK_DB")
        try:
            return func(store, **kwargs)
        except (BoundaryError, StoreError, loader.ImportFileError, ValueError, LookupError) as exc:
            fail(str(exc))
        finally:
            store.close()

    return wrapper


def tty() -> bool:
    """Whether stderr is a terminal: progress bars only then."""
    return sys.stderr.isatty()


def report(result: loader.ImportResult) -> int:
    """Print an import's warnings, rejected rows and counts; its exit status."""
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for message in result.messages[:SHOWN_MESSAGES]:
        click.echo(f"{Path(result.source).name}: {message}", err=True)
    hidden = result.rejected - min(len(result.messages), SHOWN_MESSAGES)
    if hidden > 0:
        click.echo(f"... and {hidden} more rejected rows", err=True)
    click.echo(
        f"{Path(result.source).name}: read {result.read}, inserted {result.inserted}, "
        f"updated {result.updated}, unchanged {result.unchanged}, rejected {result.rejected}, "
        f"outside every boundary {result.outside}"
    )
    if result.rejects_path:
        click.echo(f"rejected rows and their reasons: {result.rejects_path}")
    return result.exit_code
