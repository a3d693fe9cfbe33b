"""``placerisk review list`` and ``placerisk retention``: the review queue and the purge.

Decisions are taken in the browser (``/review``) or over the API. ``retention`` is a dry run
unless given ``--apply``; an applied purge is audited as ``cli:<login name>``.
"""

from __future__ import annotations

import datetime as dt

import click

from api.cli._common import cli_user, with_store
from api.settings import Settings
from layers.access.review_store import purge, review_queue
from layers.store.engine import Store, utcnow


@click.group()
def review() -> None:
    """The review queue of places of concern (decide at /review in the browser)."""


@review.command("list")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Draw up the queue for this day [default: today].")
@with_store
def review_list(store: Store, on: dt.datetime | None) -> None:
    """List the places due for review, most overdue first."""
    today = on.date() if on else utcnow().date()
    with store.connect() as conn:
        queue = review_queue(conn, today=today)
    for r in queue.itertuples(index=False):
        click.echo(f"{r.source_id:<12} level {r.mace_level} {r.status:<10} due {r.due} "
                   f"({r.days_overdue} days ago, by {r.due_from})  {r.name}")
    click.echo(f"{len(queue)} places due for review on {today}", err=True)


@click.command("retention")
@click.option("--days", type=click.IntRange(0, None), default=None,
              help="Purge places erased more than this many days ago [env "
                   "PLACERISK_RETENTION_DAYS; default 365].")
@click.option("--apply", is_flag=True,
              help="Delete them for good; without it, only list what would go.")
@with_store
def retention(store: Store, days: int | None, apply: bool) -> None:
    """Purge erased places after the retention period (a dry run unless --apply)."""
    days = Settings.from_env().retention_days if days is None else days
    result = purge(store, older_than_days=days, apply=apply, user=cli_user())
    for r in result.places.itertuples(index=False):
        click.echo(f"{r.source_id:<12} erased {r.erased_at} by {r.erased_by}")
    if apply:
        click.echo(f"purged: {result.summary()}")
    else:
        click.echo(f"dry run, nothing changed (add --apply to purge): {result.summary()}")
