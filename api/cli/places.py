"""``placerisk place``: record a place, change it, decide its level, close it, read its history.

The same writes as the browser and the API (`layers.records.edits_store`): the import's
checks and messages, only the fields given, the version an edit was made from, every
change kept. They are audited as ``cli:<login name>``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import click

from api.cli._common import cli_user, fail, with_store
from layers.errors import NotFoundError
from layers.records import edits_store as edits
from layers.store.engine import Store

_FIELDS = (("name", "The place's name."), ("category", "A category, such as takeaway."),
           ("address", "Its address."), ("postcode", "Locates it when no coordinates are "
                                                     "given."),
           ("latitude", "WGS84 latitude."), ("longitude", "WGS84 longitude."),
           ("exploitation-types", "Semicolon-separated: cse;cce."),
           ("source-agency", "Who raised it."), ("assessed-on", "YYYY-MM-DD."),
           ("review-due", "YYYY-MM-DD."), ("notes", "Free text (analysts only)."))


def _field_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name, text in reversed(_FIELDS):
        func = click.option(f"--{name}", name.replace("-", "_"), default=None, help=text)(func)
    return func


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def _run(write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a write; a refused one exits 1 naming each field, a conflict exits 2."""
    try:
        return write()
    except edits.FieldErrors as exc:
        fail("; ".join(str(p) for p in exc.problems))
    except edits.VersionConflict as exc:
        fail(str(exc), code=2)
    except NotFoundError as exc:
        fail(f"{exc}; `placerisk export places --out places.csv` lists the places")


def _actor() -> edits.Actor:
    return edits.Actor(cli_user())


@click.group()
def place() -> None:
    """Record and change places of concern, keeping every version."""


@place.command("add")
@click.option("--id", "place_id", default=None, help="Your id [default: made up].")
@_field_options
@click.option("--level", "mace_level", type=click.IntRange(1, 4), required=True,
              help="MACE level 1-4.")
@click.option("--reason", "level_reason", default=None, help="Why this first level.")
@with_store
def place_add(store: Store, **options: Any) -> None:
    """Record a new place with its first level; prints its id and version."""
    made = _run(lambda: edits.create_place(store, _given(options), actor=_actor()))
    click.echo(f"{made['source_id']} version {made['version']}")


@place.command("edit")
@click.argument("place_id")
@click.option("--version", type=click.IntRange(1), required=True,
              help="The version you are changing (placerisk place history ID).")
@_field_options
@click.option("--reason", default=None, help="Why (optional).")
@with_store
def place_edit(store: Store, place_id: str, version: int, reason: str | None,
               **options: Any) -> None:
    """Change the fields given (an empty value clears one); the rest stay as they are."""
    out = _run(lambda: edits.update_place(store, place_id, _given(options), version=version,
                                          reason=reason, actor=_actor()))
    for name, change in out["changed"].items():
        click.echo(f"{name}: {change['before']!r} -> {change['after']!r}")
    click.echo(f"{place_id} version {out['version']}"
               + ("" if out["changed"] else " (nothing changed)"))


@place.command("level")
@click.argument("place_id")
@click.option("--to", "level", type=click.IntRange(1, 4), required=True, help="The new level.")
@click.option("--reason", required=True, help="Why the level changes.")
@click.option("--version", type=click.IntRange(1), required=True, help="The version you saw.")
@click.option("--on", "decided_on", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The day of the decision [default: today].")
@click.option("--ref", "decision_ref", default=None,
              help="The MACE meeting or triage note, such as 'MACE 2026-12-02'.")
@with_store
def place_level(store: Store, place_id: str, level: int, reason: str, version: int,
                decided_on: dt.datetime | None, decision_ref: str | None) -> None:
    """Raise or lower a place's MACE level, with a reason."""
    out = _run(lambda: edits.decide_level(
        store, place_id, level=level, reason=reason, version=version, actor=_actor(),
        decided_on=decided_on.date() if decided_on else None, decision_ref=decision_ref))
    click.echo(f"{place_id} level {out['from_level']} -> {out['to_level']}, "
               f"version {out['version']}")


@place.command("close")
@click.argument("place_id")
@click.option("--reason", required=True, help="Why it is no longer of concern.")
@click.option("--version", type=click.IntRange(1), required=True, help="The version you saw.")
@with_store
def place_close(store: Store, place_id: str, reason: str, version: int) -> None:
    """Close a place; its history is kept."""
    out = _run(lambda: edits.close_place(store, place_id, reason=reason, version=version,
                                         actor=_actor()))
    click.echo(f"{place_id} closed, version {out['version']}")


@place.command("history")
@click.argument("place_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@with_store
def place_history(store: Store, place_id: str, as_json: bool) -> None:
    """Every version of a place: when, who, what changed and why."""
    with store.connect() as conn:
        try:
            changes = edits.history(conn, place_id)
        except NotFoundError as exc:
            fail(str(exc))
    for change in changes:
        if as_json:
            click.echo(json.dumps(change, default=str, sort_keys=True))
            continue
        fields = ", ".join(f"{k} {change['before'].get(k)!r} -> {v!r}"
                           for k, v in change["after"].items() if k != "notes")
        why = f"  because: {change['reason']}" if change["reason"] else ""
        click.echo(f"v{change['version']} {change['changed_at']:%Y-%m-%d %H:%M} "
                   f"{change['changed_by']} {change['action']}: {fields}{why}")
