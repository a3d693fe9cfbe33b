"""Places recorded and changed by named people: the one write path of forms, API and CLI.

Every write here

- checks its values with the rules and messages of the places import
  (`layers.records.places.parse_places`), naming the field, the value and the reason;
- changes only the fields it is given (an edit never wipes what it was not given);
- names the version it was made from: an edit of a place someone else changed meanwhile is
  refused with `VersionConflict`, and loses nothing;
- keeps history rather than overwriting it: the place's ``version`` goes up by one and a
  ``record_changes`` row keeps who, when, why and the changed values before and after
  (`history` reads them back; `as_known_at` puts earlier values back for an as-of view);
- is audited (action ``edit``) in the same transaction, without the free text.

Level decisions go through `decide_level` (a reason, the decision date and the MACE
meeting or triage note it was made in), never through `update_place`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from layers.errors import NotFoundError, ParameterError
from layers.records import places as place_rules
from layers.records import reports as report_rules
from layers.records.locate import index_frame
from layers.store import audit, schema
from layers.store import scope as scopes
from layers.store.engine import Store, resolution, utcnow, ward_index

# The fields a person may give, by their import column names (README "CSV formats").
PLACE_FIELDS = ("name", "category", "address", "postcode", "latitude", "longitude",
                "exploitation_types", "source_agency", "assessed_on", "review_due", "notes")
NEW_PLACE_FIELDS = ("place_id", *PLACE_FIELDS, "mace_level", "level_reason")
# Stored columns a change of the fields above can change, and what a history shows.
STORED = ("name", "category", "address", "postcode", "lat", "lng", "h3_cell", "ward_code",
          "outside_areas", "exploitation_types", "source_agency", "assessed_on", "review_due",
          "notes", "status", "mace_level")
CLOSED = "closed"
FIRST_LEVEL = "first level, recorded with the place"
MAX_REF = 64


class VersionConflict(RuntimeError):
    """An edit made from a version of the record that is no longer the current one."""


@dataclass(frozen=True)
class Problem:
    """One refused value: the field, the value given and the reason."""

    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field} {self.value!r}: {self.reason}" if self.value else \
            f"{self.field}: {self.reason}"


class FieldErrors(ParameterError):
    """Values a write refused, each `Problem` naming its field (shown beside it in a form)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the account's name and role, and the client address."""

    user: str
    role: str | None = None
    client: str | None = None


# --- checking ------------------------------------------------------------------------------

def _text(value: object) -> str:
    """A field's value as the import reads it: text, blanks as ``""``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _unknown(fields: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    wrong = sorted(set(fields) - set(allowed))
    if wrong:
        raise FieldErrors([Problem(name, "", f"not a field of a place; expected one of "
                                   f"{', '.join(allowed)}") for name in wrong])


def _parse(values: Mapping[str, str]) -> pd.Series:
    """One place's fields checked by the import's rules; `FieldErrors` for what is wrong."""
    raw = pd.DataFrame([{c: values.get(c, "") for c in
                         (*place_rules.COLUMNS, *place_rules.OPTIONAL_COLUMNS)}], dtype=object)
    parsed, problems = place_rules.parse_places(raw, pd.Series([1]))
    if len(problems):
        raise FieldErrors([Problem(str(c), str(v), str(r)) for c, v, r in
                           zip(problems["column"], problems["value"], problems["reason"],
                               strict=True)])
    return parsed.iloc[0]


def _locate(conn: sa.Connection, row: pd.Series, values: Mapping[str, str]) -> pd.Series:
    """Coordinates from the fields, else from the postcode; then the cell and the ward."""
    out = row.copy()
    if pd.isna(out["lat"]):
        if pd.isna(out["postcode"]):
            raise FieldErrors([Problem("location", "",
                                       "no location: give latitude and longitude or a postcode")])
        t = schema.postcodes
        found = conn.execute(sa.select(t.c.lat, t.c.lng).where(
            t.c.postcode == out["postcode"])).first()
        if found is None:
            raise FieldErrors([Problem("postcode", values.get("postcode", ""),
                                       "unknown postcode; give latitude and longitude, or "
                                       "load Code-Point Open (placerisk postcodes load FILE)")])
        out["lat"], out["lng"] = found[0], found[1]
    frame = index_frame(pd.DataFrame([out]), resolution=resolution(conn),
                        wards=ward_index(conn))
    return frame.iloc[0]


def _in_scope(conn: sa.Connection, ward_code: object, scope: scopes.Scope) -> None:
    """Refuse a location outside the authorities the writer may see."""
    if scope is None:
        return
    wards = scopes.wards(conn, scope) or frozenset()
    if ward_code is None or pd.isna(ward_code) or ward_code not in wards:
        raise FieldErrors([Problem("location", "", "outside the authorities you may see; "
                                   "ask an administrator if this place is yours")])


def _stored(row: pd.Series) -> dict[str, Any]:
    """The stored values of a parsed and located row (plain Python values)."""
    out: dict[str, Any] = {}
    for name in STORED:
        if name not in row:
            continue
        value = row[name]
        if value is None or (not isinstance(value, str | list) and pd.isna(value)):
            out[name] = None
        elif isinstance(value, np.generic):
            out[name] = value.item()
        elif isinstance(value, pd.Timestamp):
            out[name] = value.date()
        else:
            out[name] = value
    if out.get("mace_level") is not None:
        out["mace_level"] = int(out["mace_level"])
    if "outside_areas" in out:
        out["outside_areas"] = bool(out["outside_areas"])
    return out


def _json(values: Mapping[str, Any]) -> str:
    return json.dumps({k: v.isoformat() if isinstance(v, dt.date) else v
                       for k, v in values.items()}, sort_keys=True)


def _reason(reason: str | None, *, required: bool, what: str) -> str | None:
    text = (reason or "").strip()
    if not text:
        if required:
            raise FieldErrors([Problem("reason", "", f"say why {what}")])
        return None
    problem = place_rules_text_problem(text)
    if problem:
        raise FieldErrors([Problem("reason", "", problem)])
    return text


def place_rules_text_problem(text: str) -> str | None:
    """Why a reason cannot be stored (too long, a control character), as the import says."""
    from layers.records._parse import text_problem

    return text_problem(text, schema.record_changes.c.reason)


# --- reading -------------------------------------------------------------------------------

def _place(conn: sa.Connection, source_id: str, scope: scopes.Scope) -> sa.RowMapping:
    """The live place's row, locked for the write; `NotFoundError` if absent or unseen."""
    t = schema.places
    row = conn.execute(sa.select(t).where(t.c.source_id == source_id, t.c.erased_at.is_(None),
                                          *scopes.where(t.c.ward_code, scope))
                       .with_for_update()).mappings().first()
    if row is None:
        msg = f"no place {source_id!r}"
        raise NotFoundError(msg)
    return row


def _check_version(row: sa.RowMapping, version: int) -> None:
    if int(row["version"]) != int(version):
        changed = row["updated_at"]
        msg = (f"place {row['source_id']} was changed (now version {row['version']}, "
               f"{changed:%Y-%m-%d %H:%M} UTC) since the version {version} this edit was "
               "made from; reload it and make your change again")
        raise VersionConflict(msg)


def _form_values(row: sa.RowMapping) -> dict[str, str]:
    """A stored place as the import's text fields, for checking an edit of some of them."""
    return {
        "place_id": row["source_id"], "name": _text(row["name"]),
        "category": _text(row["category"]), "address": _text(row["address"]),
        "postcode": _text(row["postcode"]),
        "latitude": "" if row["lat"] is None else repr(float(row["lat"])),
        "longitude": "" if row["lng"] is None else repr(float(row["lng"])),
        "mace_level": str(row["mace_level"]),
        "exploitation_types": _text(row["exploitation_types"]),
        "source_agency": _text(row["source_agency"]), "assessed_on": _text(row["assessed_on"]),
        "review_due": _text(row["review_due"]), "notes": _text(row["notes"]),
        "status": _text(row["status"]),
    }


# --- writing -------------------------------------------------------------------------------

def _log(conn: sa.Connection, *, record_id: int, version: int, action: str, now: dt.datetime,
         actor: Actor, reason: str | None, before: Mapping[str, Any],
         after: Mapping[str, Any], source_id: str, table: str = "places") -> None:
    conn.execute(sa.insert(schema.record_changes).values(
        table_name=table, record_id=record_id, version=version, action=action,
        changed_at=now, changed_by=actor.user, role=actor.role, reason=reason,
        before_json=_json(before), after_json=_json(after)))
    audit.record(conn, action="edit", user_name=actor.user, role=actor.role,
                 object_type=table.removesuffix("s"), object_ids=[source_id],
                 client=actor.client,
                 detail=f"{action} v{version}: {', '.join(sorted(after)) or 'nothing'}")


def create_place(store: Store, fields: Mapping[str, object], *, actor: Actor,
                 scope: scopes.Scope = None) -> dict[str, Any]:
    """Record a new place with its first level; return it as stored (``version`` 1).

    ``fields`` are named as the places import's columns (`NEW_PLACE_FIELDS`): ``name``,
    ``category`` and ``mace_level`` are required, and a location (``latitude`` and
    ``longitude``, or a ``postcode`` that is loaded). ``place_id`` is made up when not given.
    ``level_reason`` is the first level's reason.

    Raises
    ------
    FieldErrors
        For every value the import would refuse, a missing location, a location outside
        ``scope`` or a ``place_id`` already used.
    """
    _unknown(fields, NEW_PLACE_FIELDS)
    values = {k: _text(v) for k, v in fields.items()}
    values.setdefault("place_id", "")
    if not values["place_id"].strip():
        values["place_id"] = f"PL-{uuid.uuid4().hex[:10].upper()}"
    row = _parse(values)
    now = utcnow()
    t = schema.places
    with store.begin() as conn:
        located = _locate(conn, row, values)
        _in_scope(conn, located["ward_code"], scope)
        taken = conn.scalar(sa.select(t.c.id).where(t.c.source_id == row["source_id"]))
        if taken is not None:
            raise FieldErrors([Problem("place_id", str(row["source_id"]),
                                       "already used by another place; choose another id "
                                       "or leave it blank")])
        stored = _stored(located)
        stored["status"] = "open"
        place_id = conn.execute(sa.insert(t).values(
            source_id=row["source_id"], **stored, created_at=now, updated_at=now, version=1)
            .returning(t.c.id)).scalar_one()
        reason = _reason(values.get("level_reason"), required=False, what="") or FIRST_LEVEL
        conn.execute(sa.insert(schema.place_levels).values(
            place_id=place_id, changed_on=now.date(), from_level=None,
            to_level=stored["mace_level"], reason=reason, recorded_at=now,
            decided_by=actor.user))
        _log(conn, record_id=place_id, version=1, action="create", now=now, actor=actor,
             reason=None, before={}, after=stored, source_id=str(row["source_id"]))
    return {"source_id": row["source_id"], "version": 1, **stored}


def update_place(store: Store, source_id: str, fields: Mapping[str, object], *, version: int,
                 actor: Actor, reason: str | None = None, scope: scopes.Scope = None
                 ) -> dict[str, Any]:
    """Change some fields of a place, made from ``version``; return what changed.

    Only the fields given change: a blank one clears its value (``notes: ""``), a field
    left out keeps it. The level is changed by `decide_level`, closing by `close_place`.

    Returns
    -------
    dict
        ``source_id``, the new ``version`` and ``changed``: the stored columns that
        changed, each with its value before and after (empty, and the version unchanged,
        when the values given are the stored ones).

    Raises
    ------
    FieldErrors
        For a value the import would refuse (or ``mace_level``, ``status``, ``place_id``).
    VersionConflict
        If the place is no longer at ``version``.
    layers.errors.NotFoundError
        If there is no such place, it was erased, or it is outside ``scope``.
    """
    _unknown(fields, PLACE_FIELDS)
    given = {k: _text(v) for k, v in fields.items()}
    why = _reason(reason, required=False, what="")
    now = utcnow()
    t = schema.places
    with store.begin() as conn:
        current = _place(conn, source_id, scope)
        _check_version(current, version)
        values = _form_values(current) | given
        if {"latitude", "longitude", "postcode"} & set(given) and not (
                {"latitude", "longitude"} & set(given)):
            values["latitude"] = values["longitude"] = ""  # a new postcode moves the place
        located = _locate(conn, _parse(values), values)
        _in_scope(conn, located["ward_code"], scope)
        after_all = _stored(located)
        after_all.pop("status", None)
        after_all.pop("mace_level", None)
        before = {k: _plain(current[k]) for k in after_all}
        changed = {k: v for k, v in after_all.items() if not _same(before[k], v)}
        if not changed:
            return {"source_id": source_id, "version": int(current["version"]), "changed": {}}
        new_version = int(current["version"]) + 1
        conn.execute(sa.update(t).where(t.c.id == current["id"]).values(
            **changed, updated_at=now, version=new_version))
        _log(conn, record_id=current["id"], version=new_version, action="update", now=now,
             actor=actor, reason=why, before={k: before[k] for k in changed}, after=changed,
             source_id=source_id)
    return {"source_id": source_id, "version": new_version,
            "changed": {k: {"before": before[k], "after": v} for k, v in changed.items()}}


def decide_level(store: Store, source_id: str, *, level: int, reason: str, version: int,
                 actor: Actor, decided_on: dt.date | None = None,
                 decision_ref: str | None = None, scope: scopes.Scope = None
                 ) -> dict[str, Any]:
    """Raise or lower a place's MACE level, with a reason, by a named person.

    ``decided_on`` is the day of the decision (default today; not in the future),
    ``decision_ref`` the MACE meeting or triage note it was made in. The level history
    (`layers.store.schema.place_levels`) gets the decision with who made it.

    Raises
    ------
    FieldErrors
        For a level outside 1-4, the current level again, no reason, a future day or a
        reference longer than 64 characters.
    VersionConflict, layers.errors.NotFoundError
        As for `update_place`.
    """
    now = utcnow()
    day = decided_on or now.date()
    problems = []
    if level not in place_rules.LEVELS:
        problems.append(Problem("level", str(level), "expected a MACE level from 1 to 4"))
    if day > now.date():
        problems.append(Problem("decided_on", day.isoformat(), "is in the future"))
    ref = (decision_ref or "").strip() or None
    if ref is not None and len(ref) > MAX_REF:
        problems.append(Problem("decision_ref", "", f"{len(ref)} characters; at most {MAX_REF}"))
    if problems:
        raise FieldErrors(problems)
    why = _reason(reason, required=True, what="the level changes")
    t = schema.places
    with store.begin() as conn:
        current = _place(conn, source_id, scope)
        _check_version(current, version)
        old = int(current["mace_level"])
        if level == old:
            raise FieldErrors([Problem("level", str(level),
                                       "is the place's level already; nothing to decide")])
        if current["status"] == CLOSED:
            raise FieldErrors([Problem("level", str(level), "the place is closed; reopen it "
                                       "first by recording it again")])
        new_version = int(current["version"]) + 1
        conn.execute(sa.update(t).where(t.c.id == current["id"]).values(
            mace_level=level, updated_at=now, version=new_version))
        conn.execute(sa.insert(schema.place_levels).values(
            place_id=current["id"], changed_on=day, from_level=old, to_level=level,
            reason=why, recorded_at=now, decided_by=actor.user, decision_ref=ref))
        _log(conn, record_id=current["id"], version=new_version, action="level", now=now,
             actor=actor, reason=why, before={"mace_level": old}, after={"mace_level": level},
             source_id=source_id)
    return {"source_id": source_id, "version": new_version, "from_level": old,
            "to_level": level, "decided_on": day, "decision_ref": ref,
            "decided_by": actor.user}


def close_place(store: Store, source_id: str, *, reason: str, version: int, actor: Actor,
                scope: scopes.Scope = None) -> dict[str, Any]:
    """Close a place (no longer of concern here), with a reason; its history is kept."""
    why = _reason(reason, required=True, what="the place is closed")
    now = utcnow()
    t = schema.places
    with store.begin() as conn:
        current = _place(conn, source_id, scope)
        _check_version(current, version)
        if current["status"] == CLOSED:
            raise FieldErrors([Problem("status", CLOSED, "the place is closed already")])
        new_version = int(current["version"]) + 1
        conn.execute(sa.update(t).where(t.c.id == current["id"]).values(
            status=CLOSED, updated_at=now, version=new_version))
        _log(conn, record_id=current["id"], version=new_version, action="close", now=now,
             actor=actor, reason=why, before={"status": current["status"]},
             after={"status": CLOSED}, source_id=source_id)
    return {"source_id": source_id, "version": new_version, "status": CLOSED}


# --- concern reports -----------------------------------------------------------------------

REPORT_FIELDS = tuple(c for c in report_rules.COLUMNS)
REPORT_STORED = ("reported_on", "place_id", "postcode", "located_by", "lat", "lng", "h3_cell",
                 "ward_code", "outside_areas", "mace_level", "exploitation_type",
                 "source_agency", "patrol_discovered", "source_grade", "intel_grade",
                 "handling_code", "summary")


def create_report(store: Store, fields: Mapping[str, object], *, actor: Actor,
                  scope: scopes.Scope = None, today: dt.date | None = None) -> dict[str, Any]:
    """Record one concern report, checked by the reports import's rules; ``version`` 1.

    ``fields`` are named as the reports import's columns (`REPORT_FIELDS`): ``reported_on``
    and ``mace_level`` are required, and a location: ``place_id`` (a place the writer may
    see; the report then stands where the place does unless it gives its own
    coordinates), ``latitude`` and ``longitude``, or a loaded ``postcode``. ``report_id`` is
    made up when not given; ``patrol_discovered`` is false unless given.

    Raises
    ------
    FieldErrors
        For every value the import would refuse, an unknown or unseen place, no location,
        a location outside ``scope`` or a ``report_id`` already used.
    """
    _unknown(fields, REPORT_FIELDS)
    values = {k: _text(v) for k, v in fields.items()}
    if not values.get("report_id", "").strip():
        values["report_id"] = f"RP-{uuid.uuid4().hex[:10].upper()}"
    raw = pd.DataFrame([{c: values.get(c, "") for c in report_rules.COLUMNS}], dtype=object)
    parsed, problems = report_rules.parse_reports(raw, pd.Series([1]), today=today)
    if len(problems):
        raise FieldErrors([Problem(str(c), str(v), str(r)) for c, v, r in
                           zip(problems["column"], problems["value"], problems["reason"],
                               strict=True)])
    row = parsed.iloc[0].copy()
    now = utcnow()
    r, pl = schema.reports, schema.places
    with store.begin() as conn:
        place_id = None
        located_by = "coordinates"
        if not pd.isna(row["place_ref"]):
            place = conn.execute(sa.select(pl.c.id, pl.c.lat, pl.c.lng).where(
                pl.c.source_id == row["place_ref"], pl.c.erased_at.is_(None),
                *scopes.where(pl.c.ward_code, scope))).first()
            if place is None:
                raise FieldErrors([Problem("place_id", str(row["place_ref"]),
                                           "no such place; record the place first")])
            place_id = int(place[0])
            if pd.isna(row["lat"]) and place[1] is not None:
                row["lat"], row["lng"], located_by = place[1], place[2], "place"
        if pd.isna(row["lat"]) and not pd.isna(row["postcode"]):
            located_by = "postcode"
        located = _locate(conn, row, values)
        _in_scope(conn, located["ward_code"], scope)
        taken = conn.scalar(sa.select(r.c.id).where(r.c.source_id == row["source_id"]))
        if taken is not None:
            raise FieldErrors([Problem("report_id", str(row["source_id"]),
                                       "already used by another report; choose another id "
                                       "or leave it blank")])
        stored = {name: _value(located.get(name)) for name in REPORT_STORED
                  if name in located.index}
        stored |= {"place_id": place_id, "located_by": located_by,
                   "mace_level": int(located["mace_level"]),
                   "patrol_discovered": bool(_value(located["patrol_discovered"]) or False),
                   "outside_areas": bool(located["outside_areas"])}
        report_id = conn.execute(sa.insert(r).values(
            source_id=row["source_id"], **stored, created_at=now, updated_at=now, version=1)
            .returning(r.c.id)).scalar_one()
        _log(conn, record_id=report_id, version=1, action="create", now=now, actor=actor,
             reason=None, before={}, after=stored, source_id=str(row["source_id"]),
             table="reports")
    return {"source_id": row["source_id"], "version": 1, **stored}


def _value(value: object) -> Any:
    """A parsed cell as a plain Python value (``None`` for a missing one)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def _plain(value: object) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _same(a: object, b: object) -> bool:
    """Equal values; coordinates equal to a nanodegree."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-9
    return bool(a == b)


# --- history -------------------------------------------------------------------------------

def history(conn: sa.Connection, source_id: str, *, scope: scopes.Scope = None
            ) -> list[dict[str, Any]]:
    """Every change of a place, oldest first: version, when, who, action, why, before, after.

    Free text (the reason, and notes among the values) is for analysts: the caller decides
    who reads it. Changes made before placerisk kept versions (imports, the review
    register) are in the level history and the audit log, not here.

    Raises
    ------
    layers.errors.NotFoundError
        If there is no such place, it was erased, or it is outside ``scope``.
    """
    t, c = schema.places, schema.record_changes
    place = conn.execute(sa.select(t.c.id).where(
        t.c.source_id == source_id, t.c.erased_at.is_(None),
        *scopes.where(t.c.ward_code, scope))).scalar()
    if place is None:
        msg = f"no place {source_id!r}"
        raise NotFoundError(msg)
    rows = conn.execute(sa.select(c).where(c.c.table_name == "places", c.c.record_id == place)
                        .order_by(c.c.version)).mappings().all()
    return [{"version": r["version"], "action": r["action"], "changed_at": r["changed_at"],
             "changed_by": r["changed_by"], "role": r["role"], "reason": r["reason"],
             "before": json.loads(r["before_json"]), "after": json.loads(r["after_json"])}
            for r in rows]


def as_known_at(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame,
                known_by: dt.datetime) -> pd.DataFrame:
    """``frame`` (rows of ``table`` with their ``id``) as they were known at ``known_by``.

    Each column a later change touched gets back the value it had before the first such
    change. Vectorised: one read of the changes after ``known_by``, usually few.
    """
    c = schema.record_changes
    rows = conn.execute(sa.select(c.c.record_id, c.c.version, c.c.before_json)
                        .where(c.c.table_name == table.name, c.c.changed_at > known_by)
                        .order_by(c.c.record_id, c.c.version)).all()
    if not rows or frame.empty:
        return frame
    earlier = pd.DataFrame([(rid, ver, k, v) for rid, ver, text in rows
                            for k, v in json.loads(text).items()],
                           columns=["id", "version", "column", "value"])
    first = earlier.drop_duplicates(["id", "column"], keep="first")
    out = frame.copy()
    position = pd.Series(np.arange(len(out)), index=out["id"].to_numpy())
    for column, group in first.groupby("column"):
        if column not in out.columns:
            continue
        hit = group[group["id"].isin(position.index)]
        if hit.empty:
            continue
        values = out[column].astype(object).to_numpy(copy=True)
        values[position[hit["id"]].to_numpy()] = hit["value"].to_numpy(dtype=object)
        out[column] = values
    return out
