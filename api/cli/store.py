"""``placerisk db upgrade`` and ``placerisk status``: the schema, and what the store holds."""

from __future__ import annotations

import json

import click

from api.cli._common import with_store
from layers.store.engine import Store, upgrade_schema


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@with_store
def db_upgrade(store: Store) -> None:
    """Apply pending schema migrations (also done automatically on first use)."""
    revision = upgrade_schema(store)
    click.echo(f"{store.url}: schema at revision {revision}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@with_store
def status(store: Store, as_json: bool) -> None:
    """Show what the database holds: counts by level, type, authority and ward."""
    from api.status_text import format_status
    from layers.store.summary import status as collect

    figures = collect(store)
    click.echo(json.dumps(figures, indent=2, default=str) if as_json else format_status(figures))
