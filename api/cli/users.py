"""``placerisk users`` and ``placerisk audit``: accounts and the audit trail from the shell.

Commands run by someone with the database in hand are audited as ``cli:<login name>``.
Every account has the authorities it may see (`layers.store.scope`): ``--authority CODE``
(repeatable) or ``--all-authorities``. Admins and analysts see all by default; police and
guardian accounts must be given one or the other, so that nobody gets every authority by
leaving an option out.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
import pandas as pd
import sqlalchemy as sa

from api.cli._common import cli_user, with_store
from layers.access import accounts_store as accounts
from layers.store import audit, schema
from layers.store.engine import Store
from layers.store.scope import Scope, describe

DEMO_ACCOUNTS = {role: f"demo-{role}" for role in accounts.ROLES}


def create_demo_accounts(store: Store) -> dict[str, tuple[str, str]]:
    """One demo account per role with a fresh random password: ``{role: (name, password)}``.

    An existing demo account is left alone (its password is not shown again).
    """
    existing = {str(row["name"]) for row in accounts.list_users(store)}
    made = {}
    for role, name in DEMO_ACCOUNTS.items():
        if name in existing:
            continue
        password = accounts.new_password()
        accounts.add_user(store, name, role, password)
        audit.record(store, action="users", user_name=cli_user(), object_type="user",
                     object_ids=[name], detail=f"demo account added, role {role}")
        made[role] = (name, password)
    return made


MUST_CHOOSE = ("police", "guardian")  # roles whose accounts name their authorities
AUTHORITY_HELP = ("An authority the account may see, by its code as `placerisk status` lists "
                  "them (E06000001 Hartlepool, E06000004 Stockton-on-Tees). Repeatable.")
ALL_HELP = ("Every authority, including those whose boundaries are loaded later (the "
            "default for admins and analysts).")


def _chosen_scope(role: str | None, codes: tuple[str, ...], every: bool) -> list[str] | None:
    """The authorities asked for: codes, ``None`` for all; a `click.UsageError` if unclear."""
    if codes and every:
        msg = "give --authority CODE (repeatable) or --all-authorities, not both"
        raise click.UsageError(msg)
    if codes:
        return sorted(set(codes))
    if not every and role in MUST_CHOOSE:
        msg = (f"a {role} account sees only the authorities it is given: add --authority "
               "CODE (repeatable, such as --authority E06000001) or --all-authorities")
        raise click.UsageError(msg)
    return None


def _warn_unloaded(store: Store, scope: Scope) -> None:
    """Say which codes have no loaded wards: the account sees nothing there until they are."""
    if scope is None:
        return
    with store.connect() as conn:
        loaded = set(conn.scalars(sa.select(schema.areas.c.authority_code).distinct()))
    for code in sorted(scope - loaded):
        click.secho(f"note: no wards of authority {code} are loaded yet; the account sees "
                    "nothing of it until they are (`placerisk boundaries load`)",
                    fg="yellow", err=True)


def _ask_password() -> str:
    """Ask for a new password twice; without a terminal, say how to do without one.

    Raises
    ------
    click.UsageError
        When there is no terminal and nothing to read (a script, a pipe, a scheduler).
    """
    try:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    except click.Abort:
        if sys.stdin is not None and sys.stdin.isatty():
            raise  # Ctrl-C or Ctrl-D at the prompt: the user chose to stop
        msg = ("no terminal to ask for the password: pass --generate to have one generated "
               "and printed once, or run the command in a terminal (no account was added)")
        raise click.UsageError(msg) from None


def _line(r: Any) -> str:
    """One audit row as one line (`layers.store.audit.record` keeps control characters out)."""
    at = r.at.isoformat(timespec="seconds") if hasattr(r.at, "isoformat") else r.at
    what = f"{r.object_type or ''}:{r.object_ids or ''}".strip(":")
    why = f' purpose="{r.purpose}"' if r.purpose else ""
    status = f" {int(r.status)}" if pd.notna(r.status) else ""
    count = f" returned {int(r.returned)}" if pd.notna(r.returned) else ""
    return (f"{at} {r.user_name or '-'} ({r.role or '-'}) {r.action} {r.outcome}{status} "
            f"{what}{why}{count} from {r.client or '-'} {r.detail or ''}").rstrip()


def _anchors(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
             ) -> dict[int, str]:
    """``ID:HASH`` options as ``{id: hash}``."""
    out = {}
    for value in values:
        row_id, _, digest = value.partition(":")
        if not row_id.isdigit() or len(digest) != 64 or not all(
                c in "0123456789abcdef" for c in digest):
            msg = f"--anchor {value!r}: expected ROW_ID:SHA256 (64 hex digits), as --verify prints"
            raise click.BadParameter(msg)
        out[int(row_id)] = digest
    return out


def _verify(store: Store, anchors: dict[int, str]) -> None:
    """Walk the chain; print the head (exit 0) or the first break (exit 1)."""
    with store.connect() as conn:
        found = audit.verify(conn, anchors=anchors)
    head = f"head row {found.head_id or '-'} {found.head_hash or '-'}"
    if found.intact:
        click.echo(f"audit log intact: {found.rows} rows; {head}")
        if found.head_id is not None:
            click.echo(f"note the head outside the database; later: --verify --anchor "
                       f"{found.head_id}:{found.head_hash}", err=True)
        return
    click.echo(f"audit log BROKEN: {found.problem}")
    click.echo(f"checked {found.rows} rows; {head}", err=True)
    sys.exit(1)


@click.group()
def users() -> None:
    """Accounts: add, list, disable, authorities. Roles: admin, analyst, police, guardian."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True,
              help="admin: everything and the audit log; analyst: full detail; police: "
                   "no notes or grades; guardian: the guardian view only.")
@click.option("--password", "ask", flag_value="ask", default=True,
              help="Ask for the password (the default; needs a terminal).")
@click.option("--generate", "ask", flag_value="generate",
              help="Generate a random password and print it once.")
@click.option("--authority", "codes", multiple=True, metavar="CODE", help=AUTHORITY_HELP)
@click.option("--all-authorities", "every", is_flag=True, help=ALL_HELP)
@with_store
def users_add(store: Store, name: str, role: str, ask: str, codes: tuple[str, ...],
              every: bool) -> None:
    """Add the account NAME with a role, its authorities and a password (12+ characters).

    Police and guardian accounts need --authority CODE (repeatable) or --all-authorities.
    """
    chosen = _chosen_scope(role, codes, every)
    scope = accounts.check_authorities(role, chosen)  # before asking for a password
    password = accounts.new_password() if ask == "generate" else _ask_password()
    accounts.add_user(store, name, role, password, authorities=chosen)
    audit.record(store, action="users", user_name=cli_user(), object_type="user",
                 object_ids=[name], detail=f"added, role {role}, authorities: "
                                           f"{describe(scope)}")
    click.echo(f"added {name} ({role}; {describe(scope)})")
    _warn_unloaded(store, scope)
    if ask == "generate":
        click.echo(f"password: {password}  (shown once; give it to {name} privately)")


@users.command("list")
@with_store
def users_list(store: Store) -> None:
    """List the accounts (never their passwords)."""
    for row in accounts.list_users(store):
        state = "disabled" if row["disabled"] else "active"
        last = row["last_login_at"] or "never"
        sees = describe(row["authorities"])  # type: ignore[arg-type]
        click.echo(f"{row['name']:<24} {row['role']:<9} {state:<9} last sign-in {last}; "
                   f"sees {sees}")


@users.command("authorities")
@click.argument("name")
@click.option("--authority", "codes", multiple=True, metavar="CODE", help=AUTHORITY_HELP)
@click.option("--all-authorities", "every", is_flag=True, help=ALL_HELP)
@with_store
def users_authorities(store: Store, name: str, codes: tuple[str, ...], every: bool) -> None:
    """Change the authorities the account NAME may see (from its next request on).

    Give --authority CODE (repeatable) to restrict it to those, or --all-authorities.
    The change is audited with who made it and what it was before.
    """
    if not codes and not every:
        msg = "give --authority CODE (repeatable) or --all-authorities"
        raise click.UsageError(msg)
    chosen = _chosen_scope(None, codes, every)
    before, after = accounts.set_authorities(store, name, chosen, actor=cli_user())
    click.echo(f"{name} sees {describe(after)} (was {describe(before)})")
    _warn_unloaded(store, after)


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Re-enable the account instead.")
@with_store
def users_disable(store: Store, name: str, enable: bool) -> None:
    """Disable the account NAME (its sessions end at once), or --enable it again."""
    accounts.set_disabled(store, name, disabled=not enable)
    audit.record(store, action="users", user_name=cli_user(), object_type="user",
                 object_ids=[name], detail="enabled" if enable else "disabled")
    click.echo(f"{name} {'enabled' if enable else 'disabled'}")


@click.command("audit")
@click.option("--user", help="Only this user's rows.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only rows from this day (UTC).")
@click.option("--object", "object_id", metavar="ID", help="Only rows naming this id.")
@click.option("--action", type=click.Choice(audit.ACTIONS), help="Only this action.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@click.option("--verify", is_flag=True,
              help="Check the hash chain of the whole log instead: exit 1 at the first "
                   "edited, deleted, moved or forged row, or a log cut short.")
@click.option("--anchor", "anchors", multiple=True, metavar="ID:HASH", callback=_anchors,
              help="With --verify: row ID must still have HASH (a head line noted "
                   "earlier, outside the database). Repeatable.")
@with_store
def audit_(store: Store, user: str | None, since: dt.datetime | None,
           object_id: str | None, action: str | None, limit: int, verify: bool,
           anchors: dict[int, str]) -> None:
    """Show the audit trail, newest first: who did what to which record, and when.

    With --verify, check instead that no row was changed, removed or forged since it
    was written (exit status 1 at the first that was, 0 when the log is intact).
    """
    if verify or anchors:
        if not verify or user or since or object_id or action:
            msg = "--verify checks the whole log: give it no --user, --since, --object " \
                  "or --action (and --anchor only with --verify)"
            raise click.UsageError(msg)
        _verify(store, anchors)
        return
    with store.connect() as conn:
        rows = audit.query(conn, user=user, since=since.date() if since else None,
                           object_id=object_id, action=action, limit=limit)
    for r in rows.itertuples(index=False):
        click.echo(_line(r))
    click.echo(f"{len(rows)} rows", err=True)
