"""The audit trail: who read, exported, changed or was refused what, and when (store I/O).

The Data Protection Act 2018 s.62 asks for logs of collection, alteration, consultation,
disclosure, combination and erasure, with who and when. Every such event appends one row
to ``audit_log``; the database itself refuses UPDATE and DELETE on it (triggers of migration
0003), so not even a bug in placerisk can rewrite history. Rows hold ids and actions, never
notes text, passwords or tokens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from layers import schema
from layers.store import Store, utcnow

ACTIONS = (
    "login", "logout", "denied", "read_place", "read_notes", "export", "import",
    "review", "erase", "purge", "briefing", "users",
)
OUTCOMES = ("ok", "failed", "denied", "locked")
COLUMNS = ("id", "at", "user_name", "role", "action", "object_type", "object_ids", "client",
           "purpose", "outcome", "detail")


def record(store_or_conn: Store | sa.Connection, *, action: str, outcome: str = "ok",
           user_name: str | None = None, role: str | None = None,
           object_type: str | None = None, object_ids: Iterable[object] = (),
           client: str | None = None, purpose: str | None = None,
           detail: str | None = None) -> None:
    """Append one audit row (inside ``conn``'s transaction, or a transaction of its own).

    Raises
    ------
    ValueError
        For an action or outcome not in `ACTIONS` / `OUTCOMES`.
    """
    if action not in ACTIONS or outcome not in OUTCOMES:
        msg = f"audit: unknown action {action!r} or outcome {outcome!r}"
        raise ValueError(msg)
    ids = ",".join(str(i) for i in object_ids) or None
    values = {"at": utcnow(), "user_name": user_name, "role": role, "action": action,
              "object_type": object_type, "object_ids": ids, "client": (client or "")[:64],
              "purpose": (purpose or None) and purpose[:500], "outcome": outcome,
              "detail": (detail or None) and detail[:500]}
    if isinstance(store_or_conn, sa.Connection):
        store_or_conn.execute(sa.insert(schema.audit_log).values(**values))
        return
    with store_or_conn.begin() as conn:
        conn.execute(sa.insert(schema.audit_log).values(**values))


def query(conn: sa.Connection, *, user: str | None = None, since: dt.date | None = None,
          object_id: str | None = None, action: str | None = None,
          limit: int = 1000) -> pd.DataFrame:
    """Audit rows, newest first, by user, from a day, naming an object id, or by action."""
    a = schema.audit_log
    stmt = sa.select(*(a.c[c] for c in COLUMNS))
    if user is not None:
        stmt = stmt.where(a.c.user_name == user)
    if since is not None:
        stmt = stmt.where(a.c.at >= dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC))
    if object_id is not None:
        # ids are stored comma-joined: match the whole id only
        padded = sa.literal(",") + a.c.object_ids + sa.literal(",")
        stmt = stmt.where(padded.like(f"%,{_escape_like(object_id)},%", escape="\\"))
    if action is not None:
        stmt = stmt.where(a.c.action == action)
    rows = conn.execute(stmt.order_by(a.c.id.desc()).limit(limit)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(COLUMNS), dtype=object)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
