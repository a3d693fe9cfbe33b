"""Review and retention of places of concern (store I/O).

**The review queue.** A place is due for review when its ``review_due`` date has come (the
day itself counts: a JAG meeting held on the due date must see it). A place without a
``review_due`` is due a year after it was last assessed (``assessed_on``), or, never assessed,
a year after it was first stored (``created_at``). Closed and erased places are never due.
The queue is ordered most overdue first.

**Decisions.** Each review decision is kept in ``place_reviews`` and applied in the same
transaction, with an audit row (action ``review``; the reason text stays out of the audit
log, which holds ids and actions only):

- ``retain`` (a reason is required): the place stays as it is until the next review, by
  default `NEXT_REVIEW_MONTHS` months on;
- ``lower`` to a level below the current one: the level changes and the change is added to
  the level history with the reason, so scores count the new level from today;
- ``close``: the place's status becomes ``closed``; it leaves the queue.

**Retention.** A closed place can be erased (`erase`): soft-deleted at once, so every read
of the store leaves it out (each query filters ``places.erased_at IS NULL``). `purge`
deletes places erased more than N days ago for good, with their level history and reviews.
Concern reports and activities that named such a place are kept: they are records in their
own right (a report is about a location and a date, not only a place), so only their link,
``place_id``, is cleared; their own point and ward stay. Scores of runs stored before the
erasure keep their aggregated cell values until the next ``placerisk score``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from layers.errors import NotFoundError, ParameterError
from layers.records._parse import text_problem
from layers.records.places import LEVELS
from layers.store import audit, schema
from layers.store import scope as scopes
from layers.store.engine import Store, batched, utcnow

DECISIONS = schema.REVIEW_DECISIONS
CLOSED = "closed"
NEXT_REVIEW_MONTHS = 6
UNSET_REVIEW_MONTHS = 12  # a place without a review date is due this long after assessment
MAX_REASON = schema.max_chars(schema.place_reviews.c.reason)
LOWERED = "lowered at review"
QUEUE_COLUMNS = ("source_id", "name", "category", "ward_code", "mace_level", "level_name",
                 "status", "assessed_on", "review_due", "due", "due_from", "days_overdue")
CLOSED_COLUMNS = ("source_id", "name", "category", "ward_code", "mace_level", "updated_at")


class ReviewError(ParameterError):
    """A review decision or retention setting that cannot be used (HTTP 422)."""


class ReviewStateError(ReviewError):
    """The place's state forbids the action, such as erasing a place not closed (HTTP 409)."""


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (earlier if negative), clamped to the month's end.

    Examples
    --------
    >>> add_months(dt.date(2025, 8, 31), 6)
    datetime.date(2026, 2, 28)
    >>> add_months(dt.date(2024, 2, 29), -12)
    datetime.date(2023, 2, 28)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


# --- reading -----------------------------------------------------------------------------

def _day(value: object) -> dt.date | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def _due(review_due: object, assessed_on: object, created_at: object) -> tuple[dt.date, str]:
    """The day a place falls due and the column the rule took it from."""
    if (day := _day(review_due)) is not None:
        return day, "review_due"
    if (day := _day(assessed_on)) is not None:
        return add_months(day, UNSET_REVIEW_MONTHS), "assessed_on"
    created = _day(created_at)
    assert created is not None  # created_at is NOT NULL
    return add_months(created, UNSET_REVIEW_MONTHS), "created_at"


def review_queue(conn: sa.Connection, *, today: dt.date,
                 scope: scopes.Scope = None) -> pd.DataFrame:
    """Places due for review on ``today`` (see the module's rule), most overdue first.

    Parameters
    ----------
    conn
        An open connection to the store.
    today
        The day the queue is drawn up for.
    scope
        Only places in these authorities (`layers.store.scope`); ``None`` for all.

    Returns
    -------
    pandas.DataFrame
        Columns `QUEUE_COLUMNS`: ``due`` is the day the place fell due, ``due_from`` the
        column that day came from (``review_due``, ``assessed_on`` or ``created_at``) and
        ``days_overdue`` how long ago that was (0 when due today).
    """
    t = schema.places
    year_ago = add_months(today, -UNSET_REVIEW_MONTHS)
    stored_by = dt.datetime.combine(year_ago + dt.timedelta(days=1), dt.time(), dt.UTC)
    unset = t.c.review_due.is_(None)
    due = sa.or_(t.c.review_due <= today,
                 sa.and_(unset, t.c.assessed_on <= year_ago),
                 sa.and_(unset, t.c.assessed_on.is_(None), t.c.created_at < stored_by))
    cols = ["source_id", "name", "category", "ward_code", "mace_level", "status",
            "assessed_on", "review_due", "created_at"]
    rows = conn.execute(sa.select(*(t.c[c] for c in cols))
                        .where(due, t.c.status != CLOSED, t.c.erased_at.is_(None),
                               *scopes.where(t.c.ward_code, scope))).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=cols, dtype=object)
    found = [_due(r.review_due, r.assessed_on, r.created_at) for r in frame.itertuples()]
    frame["due"] = [d for d, _ in found]
    frame["due_from"] = [f for _, f in found]
    frame["days_overdue"] = [(today - d).days for d, _ in found]
    frame["level_name"] = [LEVELS[int(v)] for v in frame["mace_level"]]
    frame = frame.sort_values(["due", "source_id"], kind="stable", ignore_index=True)
    return frame[list(QUEUE_COLUMNS)]


def closed_places(conn: sa.Connection, *, scope: scopes.Scope = None) -> pd.DataFrame:
    """Closed places not yet erased (the ones `erase` accepts), by id; columns `CLOSED_COLUMNS`.

    ``scope``: only places in these authorities (`layers.store.scope`).
    """
    t = schema.places
    rows = conn.execute(sa.select(*(t.c[c] for c in CLOSED_COLUMNS))
                        .where(t.c.status == CLOSED, t.c.erased_at.is_(None),
                               *scopes.where(t.c.ward_code, scope))
                        .order_by(t.c.source_id)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(CLOSED_COLUMNS), dtype=object)


def _live_place(conn: sa.Connection, source_id: str, scope: scopes.Scope) -> sa.RowMapping:
    """The place's row, locked; `NotFoundError` if absent, erased or out of ``scope``."""
    t = schema.places
    row = conn.execute(sa.select(t.c.id, t.c.source_id, t.c.mace_level, t.c.status,
                                 t.c.review_due)
                       .where(t.c.source_id == source_id, t.c.erased_at.is_(None),
                              *scopes.where(t.c.ward_code, scope))
                       .with_for_update()).mappings().first()
    if row is None:
        msg = f"no place {source_id!r}"
        raise NotFoundError(msg)
    return row


# --- decisions ---------------------------------------------------------------------------

def _clean_reason(reason: str | None) -> str | None:
    text = (reason or "").strip()
    problem = text_problem(text, schema.place_reviews.c.reason)
    if problem:
        msg = f"reason: {problem}"
        raise ReviewError(msg)
    return text or None


def check_decision(decision: str, *, reason: str | None, new_level: int | None,
                   next_review_due: dt.date | None, today: dt.date) -> None:
    """Refuse a decision whose values do not fit together, naming the field (`ReviewError`).

    Examples
    --------
    >>> check_decision("retain", reason=None, new_level=None, next_review_due=None,
    ...                today=dt.date(2025, 7, 1))
    Traceback (most recent call last):
    ...
    layers.access.review_store.ReviewError: reason: a retain decision needs a reason
    """
    if decision not in DECISIONS:
        msg = f"decision: expected one of {', '.join(DECISIONS)}, got {decision!r}"
        raise ReviewError(msg)
    problem = None
    if decision == "retain" and not reason:
        problem = "reason: a retain decision needs a reason"
    elif decision == "lower" and new_level is None:
        problem = "new_level: a lower decision needs the new level (1-4)"
    elif decision != "lower" and new_level is not None:
        problem = f"new_level: only a lower decision sets a level, not {decision}"
    elif new_level is not None and new_level not in LEVELS:
        problem = f"new_level: expected a MACE level from 1 to 4, got {new_level}"
    elif decision == "close" and next_review_due is not None:
        problem = "next_review_due: a closed place has no next review"
    elif next_review_due is not None and next_review_due <= today:
        problem = f"next_review_due: {next_review_due} is not after today ({today})"
    if problem:
        raise ReviewError(problem)


def _apply(conn: sa.Connection, place: sa.RowMapping, *, decision: str, reason: str | None,
           new_level: int | None, next_due: dt.date | None, today: dt.date,
           now: dt.datetime) -> dict[str, Any]:
    """Change the place as the decision says; return the changed columns."""
    t = schema.places
    changes: dict[str, Any] = {"updated_at": now}
    if decision == "close":
        changes["status"] = CLOSED
    else:
        changes["review_due"] = next_due or add_months(today, NEXT_REVIEW_MONTHS)
    if decision == "lower":
        assert new_level is not None
        current = int(place["mace_level"])
        if new_level >= current:
            msg = (f"new_level: {new_level} is not below the current level {current} of "
                   f"place {place['source_id']}; a review can only lower a level")
            raise ReviewError(msg)
        changes["mace_level"] = new_level
        conn.execute(sa.insert(schema.place_levels).values(
            place_id=place["id"], changed_on=today, from_level=current, to_level=new_level,
            reason=reason or LOWERED, recorded_at=now))
    conn.execute(sa.update(t).where(t.c.id == place["id"]).values(**changes))
    return changes


def decide(store: Store, place_source_id: str, *, decision: str, reason: str | None = None,
           new_level: int | None = None, next_review_due: dt.date | None = None, user: str,
           role: str | None = None, client: str | None = None,
           today: dt.date | None = None, scope: scopes.Scope = None) -> dict[str, Any]:
    """Record a review decision on a place and apply it, in one transaction, audited.

    Parameters
    ----------
    store
        The open store.
    place_source_id
        The place's id (``source_id``).
    decision
        ``retain``, ``lower`` or ``close`` (see the module's description).
    reason
        Why; required for ``retain``. For ``lower`` it is also the level history's reason.
    new_level
        The lowered level (``lower`` only): below the current one.
    next_review_due
        When to review again (``retain`` and ``lower``; default `NEXT_REVIEW_MONTHS` months
        from ``today``); must be after ``today``.
    user, role, client
        Who decides, for the review row and the audit log.
    today
        The day of the decision; default today (UTC).
    scope
        The authorities the decider may see (`layers.store.scope`): a place outside them is
        not found.

    Returns
    -------
    dict
        The review as stored, with the place's ``mace_level``, ``status`` and ``review_due``
        after it.

    Raises
    ------
    ReviewError
        For values that do not fit the decision, or a level not below the current one.
    ReviewStateError
        If the place is closed.
    layers.errors.NotFoundError
        If there is no such place (or it was erased, or is out of ``scope``).
    """
    today = today or utcnow().date()
    reason = _clean_reason(reason)
    check_decision(decision, reason=reason, new_level=new_level,
                   next_review_due=next_review_due, today=today)
    now = utcnow()
    with store.begin() as conn:
        place = _live_place(conn, place_source_id, scope)
        if place["status"] == CLOSED:
            msg = f"place {place_source_id} is closed; closed places are not reviewed"
            raise ReviewStateError(msg)
        changes = _apply(conn, place, decision=decision, reason=reason, new_level=new_level,
                         next_due=next_review_due, today=today, now=now)
        review = {"decided_at": now, "decided_by": user, "decision": decision,
                  "reason": reason, "new_level": new_level,
                  "next_review_due": changes.get("review_due")}
        conn.execute(sa.insert(schema.place_reviews).values(place_id=place["id"], **review))
        audit.record(conn, action="review", user_name=user, role=role, object_type="place",
                     object_ids=[place_source_id], client=client,
                     detail=_review_detail(decision, place, changes))
    after = {"mace_level": changes.get("mace_level", place["mace_level"]),
             "status": changes.get("status", place["status"]),
             "review_due": changes.get("review_due", place["review_due"])}
    return {"source_id": place_source_id, **review, **after}


def _review_detail(decision: str, place: sa.RowMapping, changes: dict[str, Any]) -> str:
    """What the decision changed, for the audit log (never the reason text)."""
    parts = [decision]
    if "mace_level" in changes:
        parts.append(f"level {place['mace_level']}->{changes['mace_level']}")
    if "review_due" in changes:
        parts.append(f"next review {changes['review_due']}")
    return "; ".join(parts)


# --- retention ---------------------------------------------------------------------------

def erase(store: Store, place_source_id: str, *, user: str, role: str | None = None,
          client: str | None = None, scope: scopes.Scope = None) -> dt.datetime:
    """Soft-delete a closed place at once: every read leaves it out from now on; audited.

    Returns the erasure time (UTC). `purge` deletes it for good after the retention period.

    Raises
    ------
    ReviewStateError
        If the place is not closed (close it at review first).
    layers.errors.NotFoundError
        If there is no such place, or it was erased already, or it is out of ``scope``
        (the authorities the user may see, `layers.store.scope`).
    """
    now = utcnow()
    t = schema.places
    with store.begin() as conn:
        place = _live_place(conn, place_source_id, scope)
        if place["status"] != CLOSED:
            msg = (f"place {place_source_id} is {place['status']}, not closed: only a closed "
                   "place can be erased; close it at review first (decision close)")
            raise ReviewStateError(msg)
        conn.execute(sa.update(t).where(t.c.id == place["id"])
                     .values(erased_at=now, erased_by=user[:64], updated_at=now))
        audit.record(conn, action="erase", user_name=user, role=role, object_type="place",
                     object_ids=[place_source_id], client=client, detail="soft-deleted")
    return now


@dataclass(frozen=True)
class Purge:
    """What `purge` found (dry run) or deleted (``applied``).

    ``places`` has ``id``, ``source_id``, ``erased_at`` and ``erased_by`` of each place
    erased before ``cutoff``; ``counts`` the rows deleted (``places``, ``place_levels``,
    ``place_reviews``) and unlinked (``reports``, ``activities``), or that would be.
    """

    cutoff: dt.datetime
    places: pd.DataFrame
    counts: dict[str, int]
    applied: bool

    def summary(self) -> str:
        """One line: how many rows of each kind.

        Examples
        --------
        >>> Purge(dt.datetime(2025, 1, 1), pd.DataFrame(), {"places": 2, "place_levels": 3,
        ...       "place_reviews": 1, "reports": 4, "activities": 0}, True).summary()
        '2 places, 3 level changes and 1 reviews deleted; 4 reports and 0 activities unlinked'
        """
        c = self.counts
        verb = ("deleted", "unlinked") if self.applied else ("to delete", "to unlink")
        return (f"{c['places']} places, {c['place_levels']} level changes and "
                f"{c['place_reviews']} reviews {verb[0]}; {c['reports']} reports and "
                f"{c['activities']} activities {verb[1]}")


def _dependents(conn: sa.Connection, ids: list[int]) -> dict[str, int]:
    """Rows of each table that point at the places ``ids``."""
    counts = {"places": len(ids)}
    for table in (schema.place_levels, schema.place_reviews, schema.reports,
                  schema.activities):
        counts[table.name] = sum(
            int(conn.scalar(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.place_id.in_(chunk))) or 0)
            for chunk in batched(ids))
    return counts


def _delete(conn: sa.Connection, ids: list[int], now: dt.datetime) -> None:
    """Unlink reports and activities from the places ``ids``, then delete them and theirs."""
    for chunk in batched(ids):
        for table in (schema.reports, schema.activities):
            conn.execute(sa.update(table).where(table.c.place_id.in_(chunk))
                         .values(place_id=None, updated_at=now))
        changes = schema.record_changes  # the places' versions: their values go with them
        conn.execute(sa.delete(changes).where(changes.c.table_name == "places",
                                              changes.c.record_id.in_(chunk)))
        for table in (schema.place_reviews, schema.place_levels, schema.places):
            key = table.c.id if table is schema.places else table.c.place_id
            conn.execute(sa.delete(table).where(key.in_(chunk)))


def purge(store: Store, *, older_than_days: int, apply: bool, user: str,
          role: str | None = None, client: str | None = None,
          now: dt.datetime | None = None) -> Purge:
    """List (dry run) or delete for good the places erased more than ``older_than_days`` ago.

    Applied, the places, their level history, reviews and versions (``record_changes``) are
    deleted and the reports and activities naming them unlinked (``place_id`` cleared), in
    one transaction with one audit row (action ``purge``, the place ids and the counts). A
    dry run changes nothing and writes no audit row.

    Raises
    ------
    ReviewError
        If ``older_than_days`` is negative.
    """
    if older_than_days < 0:
        msg = f"older_than_days: the retention period cannot be negative, got {older_than_days}"
        raise ReviewError(msg)
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=older_than_days)
    t = schema.places
    with store.begin() if apply else store.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.source_id, t.c.erased_at, t.c.erased_by)
                            .where(t.c.erased_at.is_not(None), t.c.erased_at < cutoff)
                            .order_by(t.c.erased_at, t.c.id)).all()
        places = pd.DataFrame([tuple(r) for r in rows], dtype=object,
                              columns=["id", "source_id", "erased_at", "erased_by"])
        ids = [int(i) for i in places["id"]]
        counts = _dependents(conn, ids)
        result = Purge(cutoff, places, counts, apply)
        if apply:
            _delete(conn, ids, now)
            audit.record(conn, action="purge", user_name=user, role=role,
                         object_type="place", object_ids=places["source_id"], client=client,
                         detail=f"erased before {cutoff:%Y-%m-%d %H:%M} UTC: "
                                f"{result.summary()}")
    return result
