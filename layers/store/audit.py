"""The audit trail: who read, exported, changed or was refused what, and when (store I/O).

The Data Protection Act 2018 s.62 asks for logs of collection, alteration, consultation,
disclosure, combination and erasure, with who and when. Every such event appends one row
to ``audit_log``. The database refuses UPDATE and DELETE on it (triggers of migration 0003)
and any INSERT whose id does not follow the newest row, which rules out ``INSERT OR
REPLACE`` and upserts (0006). Rows hold ids and actions, never notes text, passwords or
tokens, and no control characters (each is written escaped, so a row is one line).

Triggers stop a bug, not a database administrator, who can drop them. So the rows are
chained: each stores the SHA-256 of the row before it (``prev_hash``) and its own
(``row_hash``) over a canonical serialisation of every column (`row_digest`). The one row of
``audit_head`` names the newest row and its hash; every append locks it (on SQLite the
write lock does), so two writers cannot fork the chain. `verify` walks the chain and reports
the first row that was edited, deleted, moved or forged, and a log cut short of its head.

Examples
--------
>>> row = {"id": 1, "at": dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC), "action": "login",
...        "outcome": "ok", "user_name": "ana", "prev_hash": GENESIS}
>>> row_digest(row)[:16]
'197e564f5c30b941'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from layers.store import schema
from layers.store.engine import Store, StoreError, utcnow

ACTIONS = (
    "login", "logout", "denied", "read_place", "read_notes", "read_list", "export",
    "import", "review", "erase", "purge", "briefing", "users", "edit",
)
OUTCOMES = ("ok", "failed", "denied", "locked", "not_found", "invalid", "conflict", "error")
COLUMNS = ("id", "at", "user_name", "role", "action", "object_type", "object_ids", "client",
           "purpose", "outcome", "status", "returned", "detail")
GENESIS = "0" * 64  # the prev_hash of the first row
DIGEST_TAG = "placerisk audit v1\n"  # part of every digest: the serialisation's version
_HEAD = 1  # the id of audit_head's one row
_LIMITS = {"user_name": 64, "role": 16, "object_type": 32, "client": 64, "purpose": 500,
           "detail": 500}


def record(store_or_conn: Store | sa.Connection, *, action: str, outcome: str = "ok",
           user_name: str | None = None, role: str | None = None,
           object_type: str | None = None, object_ids: Iterable[object] = (),
           client: str | None = None, purpose: str | None = None,
           detail: str | None = None, status: int | None = None,
           returned: int | None = None) -> None:
    """Append one audit row (inside ``conn``'s transaction, or a transaction of its own).

    ``status`` is the HTTP status the request was answered with, ``returned`` how many
    records a bulk read's answer held. Text is written one-line (`one_line`) and cut to
    its column's size.

    Raises
    ------
    ValueError
        For an action or outcome not in `ACTIONS` / `OUTCOMES`.
    """
    if action not in ACTIONS or outcome not in OUTCOMES:
        msg = f"audit: unknown action {action!r} or outcome {outcome!r}"
        raise ValueError(msg)
    ids = ",".join(one_line(str(i)) for i in object_ids) or None
    text = {"user_name": user_name, "role": role, "object_type": object_type,
            "client": client or "", "purpose": purpose or None, "detail": detail or None}
    values: dict[str, object] = {
        name: None if value is None else one_line(value)[:_LIMITS[name]]
        for name, value in text.items()}
    values |= {"action": action, "object_ids": ids, "outcome": outcome, "status": status,
               "returned": returned}
    if isinstance(store_or_conn, sa.Connection):
        _append(store_or_conn, values)
        return
    with store_or_conn.begin() as conn:
        _append(conn, values)


def one_line(text: str) -> str:
    r"""``text`` with every control or other unprintable character escaped.

    Spaces of other widths (a no-break space) become plain spaces.

    Examples
    --------
    >>> print(one_line("JAG 1 Dec" + chr(10) + "admin export ok"), one_line("café"))
    JAG 1 Dec\nadmin export ok café
    >>> one_line("JAG" + chr(0xa0) + "1")
    'JAG 1'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " if unicodedata.category(c) == "Zs"
                   else c.encode("unicode_escape").decode("ascii") for c in text)


def _append(conn: sa.Connection, values: dict[str, object]) -> None:
    """Insert the next row of the chain and move the head on to it, in ``conn``'s transaction.

    The head row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction
    holds the whole database), so the row's id and ``prev_hash`` are the newest committed
    ones and no other writer can take them until this transaction ends.
    """
    head = conn.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        msg = ("the audit log has no chain head (table audit_head is empty): nothing can be "
               "audited; run `placerisk audit --verify` and restore the store from a backup")
        raise StoreError(msg)
    row = {**values, "id": (head.last_id or 0) + 1, "at": utcnow(), "prev_hash": head.last_hash}
    row["row_hash"] = row_digest(row)
    conn.execute(_INSERT, row)
    conn.execute(_MOVE_HEAD, {"new_id": row["id"], "new_hash": row["row_hash"]})


# Built once: an append is three statements, on every audited request.
_LOCK_HEAD = (sa.select(schema.audit_head.c.last_id, schema.audit_head.c.last_hash)
              .where(schema.audit_head.c.id == _HEAD).with_for_update())
_INSERT = sa.insert(schema.audit_log)
_MOVE_HEAD = (sa.update(schema.audit_head).where(schema.audit_head.c.id == _HEAD)
              .values(last_id=sa.bindparam("new_id"), last_hash=sa.bindparam("new_hash")))


def row_digest(row: Mapping[str, object]) -> str:
    """The SHA-256 (hex) of an audit row: every column but ``row_hash``, ``prev_hash`` too.

    The serialisation is JSON of the columns that are not NULL, keys sorted, times as UTC
    ISO 8601 with microseconds (a time without a zone, as SQLite returns it, is UTC), after
    `DIGEST_TAG`. A column added later, NULL in older rows, leaves their digests as they
    were. Migration 0006 holds a frozen copy of this function for the rows it chains.
    """
    fields = {name: _canonical(value) for name, value in row.items()
              if name != "row_hash" and value is not None}
    text = DIGEST_TAG + json.dumps(fields, sort_keys=True, ensure_ascii=False,
                                   separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, dt.datetime):
        utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


# --- verification ------------------------------------------------------------------------

@dataclass(frozen=True)
class Verification:
    """What `verify` found: the rows walked, the head, and the first break if any."""

    rows: int
    head_id: int | None
    head_hash: str | None
    broken_at: int | None = None  # the id of the first broken row (None: intact, or the head)
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """Every row is as written, in its place, and the log ends at its head."""
        return self.problem is None


def verify(conn: sa.Connection, *, anchors: Mapping[int, str] | None = None
           ) -> Verification:
    """Walk the audit chain from its first row and report the first break.

    Parameters
    ----------
    conn
        A connection (one snapshot: rows appended meanwhile are not seen, nor the head's
        move to them).
    anchors
        ``{row id: row_hash}`` noted earlier somewhere the database's administrators cannot
        write: a chain rewritten from before such a row on no longer holds its hash. Without
        anchors, someone who can write the database and recompute every later hash (and the
        head) is not detected; every other edit, deletion, reordering or insertion is.

    Returns
    -------
    Verification
        ``problem`` says what broke where, in words; ``broken_at`` names the row.
    """
    a, h = schema.audit_log, schema.audit_head
    head = conn.execute(sa.select(h.c.last_id, h.c.last_hash).where(h.c.id == _HEAD)
                        ).one_or_none()
    if head is None:
        return Verification(0, None, None, problem="the chain head (table audit_head) is "
                            "missing: the log cannot be checked against it")
    pending = dict(anchors or {})
    stmt = sa.select(*a.c).order_by(a.c.id)
    n, prev_id, prev_hash = 0, None, GENESIS
    with conn.execution_options(yield_per=2000).execute(stmt) as result:  # streamed
        for row in result.mappings():
            n += 1
            problem = _check_row(row, prev_id, prev_hash, pending.pop(row["id"], None))
            if problem is not None:
                return Verification(n, head.last_id, head.last_hash, row["id"], problem)
            prev_id, prev_hash = row["id"], row["row_hash"]
    if pending:
        first = min(pending)
        return Verification(n, head.last_id, head.last_hash, first,
                            f"row {first}: anchored, but the log has no such row")
    problem = _check_tail(prev_id, prev_hash, head.last_id, head.last_hash)
    return Verification(n, head.last_id, head.last_hash, problem=problem)


def _check_row(row: Mapping[Any, Any], prev_id: int | None, prev_hash: str,
               anchor: str | None) -> str | None:
    where = f"row {row['id']}"
    after = f"row {prev_id}" if prev_id is not None else "the start of the log"
    if row["row_hash"] is None or row["prev_hash"] is None:
        return f"{where}: has no hash, so placerisk did not write it (inserted with raw SQL?)"
    if row_digest(row) != row["row_hash"]:
        return f"{where}: its content no longer matches its hash: edited after it was written"
    if row["prev_hash"] != prev_hash:
        return (f"{where}: does not follow {after}: a row between them was deleted, or a "
                "row was inserted or moved here")
    if anchor is not None and anchor != row["row_hash"]:
        return (f"{where}: its hash is not the anchored {anchor[:16]}...: the chain was "
                "rewritten up to here")
    return None


def _check_tail(last_id: int | None, last_hash: str, head_id: int | None,
                head_hash: str) -> str | None:
    if last_id == head_id and last_hash == head_hash:
        return None
    if last_id is None:
        return f"the log is empty but its head names row {head_id}: every row was deleted"
    if head_id is None or head_id < last_id:
        return (f"the log goes on to row {last_id} past its head (row {head_id}): rows were "
                "appended without moving the head (raw SQL?)")
    if head_id > last_id:
        return (f"the log ends at row {last_id} but its head names row {head_id}: the newest "
                "rows were deleted")
    return f"row {last_id}: its hash is not the one the head holds: the head or the row changed"


# --- reading -----------------------------------------------------------------------------

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
