"""Table definitions of the placerisk store (SQLAlchemy Core).

The schema itself is created and changed only by the Alembic migrations in
``layers/store/migrations``; these definitions are what the code reads and writes through, and a
test checks they agree with the migrated database. Points are stored as WGS84 ``lat``/``lng``
with their H3 cell (hex string) and the code of the ward containing them; a located row that
falls outside every loaded boundary keeps ``ward_code`` NULL and ``outside_areas`` true.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

# The most characters a Text column takes, unless its ``info`` says otherwise
# (``info={"max_chars": ...}``). A String column takes its length. `max_chars` reads both:
# imports and forms refuse longer text with a message rather than cutting it.
TEXT_MAX_CHARS = 10_000

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _stamps() -> list[sa.Column[dt.datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _location() -> list[sa.Column[Any]]:
    """Columns shared by every located record."""
    return [
        sa.Column("lat", sa.Float),
        sa.Column("lng", sa.Float),
        sa.Column("h3_cell", sa.String(16), index=True),
        sa.Column("ward_code", sa.String(16), index=True),
        sa.Column("outside_areas", sa.Boolean, nullable=False, server_default=sa.false()),
    ]


settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

areas = sa.Table(
    "areas",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("authority_code", sa.String(16), nullable=False, index=True),
    sa.Column("authority_name", sa.String(200), nullable=False),
    sa.Column("vintage", sa.String(16), nullable=False),
    sa.Column("geometry_wkb", sa.LargeBinary, nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("code", "vintage"),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("n_read", sa.Integer, nullable=False),
    sa.Column("n_inserted", sa.Integer, nullable=False),
    sa.Column("n_updated", sa.Integer, nullable=False),
    sa.Column("n_unchanged", sa.Integer, nullable=False),
    sa.Column("n_rejected", sa.Integer, nullable=False),
    sa.Column("n_outside", sa.Integer, nullable=False),
)

postcodes = sa.Table(
    "postcodes",
    metadata,
    sa.Column("postcode", sa.String(8), primary_key=True),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lng", sa.Float, nullable=False),
    sa.Column("easting", sa.Integer, nullable=False),
    sa.Column("northing", sa.Integer, nullable=False),
    sa.Column("quality", sa.SmallInteger),
    sa.Column("district_code", sa.String(16)),
    sa.Column("ons_ward_code", sa.String(16)),
)

places = sa.Table(
    "places",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("address", sa.String(500)),
    sa.Column("postcode", sa.String(8)),
    *_location(),
    sa.Column("mace_level", sa.SmallInteger, nullable=False),
    sa.Column("exploitation_types", sa.String(200)),
    sa.Column("source_agency", sa.String(200)),
    sa.Column("assessed_on", sa.Date),
    sa.Column("review_due", sa.Date),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("notes", sa.Text),
    *_stamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.CheckConstraint("mace_level BETWEEN 1 AND 4", name="mace_level"),
)

place_levels = sa.Table(
    "place_levels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "place_id", sa.Integer, sa.ForeignKey("places.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("changed_on", sa.Date, nullable=False),
    sa.Column("from_level", sa.SmallInteger),
    sa.Column("to_level", sa.SmallInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, info={"max_chars": 2000}),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.String(64)),  # migration 0008: who, and in which
    sa.Column("decision_ref", sa.String(64)),  # meeting or triage note
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.String(64), nullable=False, unique=True),
    sa.Column("reported_on", sa.Date, nullable=False, index=True),
    sa.Column("place_id", sa.Integer, sa.ForeignKey("places.id"), index=True),
    sa.Column("postcode", sa.String(8)),
    sa.Column("located_by", sa.String(16), nullable=False),
    *_location(),
    sa.Column("mace_level", sa.SmallInteger, nullable=False),
    sa.Column("exploitation_type", sa.String(32)),
    sa.Column("source_agency", sa.String(200)),
    sa.Column("patrol_discovered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_grade", sa.SmallInteger),
    sa.Column("intel_grade", sa.String(1)),
    sa.Column("handling_code", sa.String(1)),
    sa.Column("summary", sa.Text),
    *_stamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.CheckConstraint("mace_level BETWEEN 1 AND 4", name="mace_level"),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.String(64), nullable=False, unique=True),
    sa.Column("activity_type", sa.String(32), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("place_id", sa.Integer, sa.ForeignKey("places.id"), index=True),
    sa.Column("postcode", sa.String(8)),
    sa.Column("located_by", sa.String(16), nullable=False),
    *_location(),
    sa.Column("agency", sa.String(200)),
    sa.Column("outcome", sa.Text),
    sa.Column("jag_ref", sa.String(64)),
    *_stamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("incident_key", sa.String(100), nullable=False, unique=True),
    sa.Column("crime_id", sa.String(100)),
    sa.Column("month", sa.String(7), nullable=False, index=True),
    sa.Column("reported_by", sa.String(100)),
    sa.Column("falls_within", sa.String(100)),
    *_location(),
    sa.Column("location", sa.String(300)),
    sa.Column("lsoa_code", sa.String(16)),
    sa.Column("lsoa_name", sa.String(100)),
    sa.Column("crime_type", sa.String(100), nullable=False, index=True),
    sa.Column("last_outcome", sa.String(200)),
    sa.Column("context", sa.Text),
    *_stamps(),
)

LOCATED_TABLES = (places, reports, activities, incidents)
VERSIONED_TABLES = (places, reports, activities)

# --- versions of edited records (migration 0008) --------------------------------------------
# One row per change made through placerisk (forms, API, CLI): the record's new version, who,
# when, why, and the changed columns' values before and after, as JSON. A record as it was
# known at time T is its current row with the ``before`` of every later change put back.
record_changes = sa.Table(
    "record_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("table_name", sa.String(16), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("changed_by", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16)),
    sa.Column("reason", sa.Text, info={"max_chars": 2000}),
    sa.Column("before_json", sa.Text, nullable=False),
    sa.Column("after_json", sa.Text, nullable=False),
    sa.UniqueConstraint("table_name", "record_id", "version"),
)

# --- scoring runs (migration 0002) ---------------------------------------------------------
# Per-step series are stored as little-endian float64 (bool for significance) byte strings:
# one row per cell instead of one per cell and step. `layers.hotspots.runs` packs and unpacks them.

score_runs = sa.Table(
    "score_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False, index=True),
    sa.Column("known_by", sa.DateTime(timezone=True), nullable=False),
    sa.Column("step", sa.String(8), nullable=False),
    sa.Column("n_steps", sa.Integer, nullable=False),
    sa.Column("k", sa.SmallInteger, nullable=False),
    sa.Column("fingerprint", sa.String(16), nullable=False, index=True),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("coverage_json", sa.Text),  # layers.hotspots.coverage: the period the data cover
    sa.Column("resolution", sa.SmallInteger, nullable=False),
    sa.Column("grid_size", sa.Integer, nullable=False),
    sa.Column("n_cells", sa.Integer, nullable=False),
    sa.Column("reused_steps", sa.Integer, nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def _run_id() -> sa.Column[int]:
    return sa.Column("run_id", sa.Integer, sa.ForeignKey("score_runs.id", ondelete="CASCADE"),
                     primary_key=True)


run_steps = sa.Table(
    "run_steps",
    metadata,
    _run_id(),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("top_1pct", sa.Float, nullable=False),
    sa.Column("top_5pct", sa.Float, nullable=False),
    sa.Column("gini", sa.Float, nullable=False),
)

run_cells = sa.Table(
    "run_cells",
    metadata,
    _run_id(),
    sa.Column("h3_cell", sa.String(16), primary_key=True),
    sa.Column("ward_code", sa.String(16), index=True),  # the ward holding the cell's centre
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("current", sa.Float, nullable=False),
    sa.Column("current_reports", sa.Float, nullable=False),
    sa.Column("current_incidents", sa.Float, nullable=False),
    sa.Column("current_places", sa.Float, nullable=False),
    sa.Column("current_patrol", sa.Float, nullable=False),
    sa.Column("z_last", sa.Float, nullable=False),
    sa.Column("trend_z", sa.Float, nullable=False),
    sa.Column("trend_p", sa.Float, nullable=False),
    sa.Column("trend_slope", sa.Float, nullable=False),
    sa.Column("values_series", sa.LargeBinary, nullable=False),
    sa.Column("z_series", sa.LargeBinary, nullable=False),
    sa.Column("p_series", sa.LargeBinary, nullable=False),
    sa.Column("sig_series", sa.LargeBinary, nullable=False),
)

run_wards = sa.Table(
    "run_wards",
    metadata,
    _run_id(),
    sa.Column("ward_code", sa.String(16), primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("current", sa.Float, nullable=False),
    sa.Column("patrol_share", sa.Float, nullable=False),
    sa.Column("trend_z", sa.Float, nullable=False),
    sa.Column("trend_p", sa.Float, nullable=False),
    sa.Column("trend_slope", sa.Float, nullable=False),
    sa.Column("values_series", sa.LargeBinary, nullable=False),
    sa.Column("score_series", sa.LargeBinary, nullable=False),
)

run_background = sa.Table(
    "run_background",
    metadata,
    _run_id(),
    sa.Column("w", sa.Integer, primary_key=True),
    sa.Column("cells", sa.Integer, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
)

# --- accounts and audit (migration 0003) ---------------------------------------------------
# Passwords are stored as argon2id hashes, session and API tokens as SHA-256 digests of the
# random token (the token itself only ever travels to the user). The audit log is
# append-only: triggers refuse UPDATE and DELETE on it (migration 0003) and an INSERT that
# does not follow its newest row (0006), and its rows are chained by hashes (below).

ROLES = ("admin", "analyst", "police", "guardian")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # "cookie" or "bearer"
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("user_name", sa.String(64), index=True),
    sa.Column("role", sa.String(16)),
    sa.Column("action", sa.String(32), nullable=False, index=True),
    sa.Column("object_type", sa.String(32)),
    sa.Column("object_ids", sa.Text),
    sa.Column("client", sa.String(64)),
    sa.Column("purpose", sa.String(500)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.String(500)),
)

# --- review and retention (migration 0004) -------------------------------------------------
# Every review decision on a place is kept. A closed place can be erased: ``erased_at`` and
# ``erased_by`` mark it soft-deleted at once (every read leaves it out), and
# ``placerisk retention --apply`` deletes it for good after the retention period.

REVIEW_DECISIONS = ("retain", "lower", "close")

places.append_column(sa.Column("erased_at", sa.DateTime(timezone=True), index=True))
places.append_column(sa.Column("erased_by", sa.String(64)))

place_reviews = sa.Table(
    "place_reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "place_id", sa.Integer, sa.ForeignKey("places.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text, info={"max_chars": 2000}),
    sa.Column("new_level", sa.SmallInteger),
    sa.Column("next_review_due", sa.Date),
    sa.CheckConstraint("decision IN ('retain', 'lower', 'close')", name="decision"),
    sa.CheckConstraint("new_level BETWEEN 1 AND 4", name="new_level"),
)

# --- the audit chain (migration 0006) ------------------------------------------------------
# Each audit row holds the HTTP status it answered and, for a bulk read, how many records
# the answer held. It is chained: ``row_hash`` is the SHA-256 of a canonical serialisation
# of every other column, ``prev_hash`` among them (`layers.store.audit.row_digest`). The one row of
# ``audit_head`` names the newest row and its hash: it is locked by every append, so two
# writers cannot fork the chain, and it shows a log whose newest rows were deleted.

audit_log.append_column(sa.Column("status", sa.Integer))
audit_log.append_column(sa.Column("returned", sa.Integer))
audit_log.append_column(sa.Column("prev_hash", sa.String(64)))
audit_log.append_column(sa.Column("row_hash", sa.String(64)))

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1
    sa.Column("last_id", sa.Integer),  # None: no row yet
    sa.Column("last_hash", sa.String(64), nullable=False),
)


def max_chars(column: sa.Column[Any]) -> int:
    """The most characters ``column`` takes: a String's length, a Text's `TEXT_MAX_CHARS`.

    Examples
    --------
    >>> max_chars(places.c.name), max_chars(places.c.notes), max_chars(place_levels.c.reason)
    (300, 10000, 2000)
    """
    if not isinstance(column.type, sa.String):
        msg = f"{column.table.name}.{column.name} is not a text column ({column.type})"
        raise TypeError(msg)
    return int(column.type.length or column.info.get("max_chars", TEXT_MAX_CHARS))

# --- the authorities an account may see (migration 0007) -----------------------------------
# One row per authority code (``areas.authority_code``) an account may see. The code
# `ALL_AUTHORITIES` ("*") stands for every authority, those whose boundaries are loaded later
# included; any other code is that authority only. An account with no row sees no authority
# at all, so a lost row narrows what it sees rather than widening it
# (`layers.access.accounts_store`).

ALL_AUTHORITIES = "*"

user_authorities = sa.Table(
    "user_authorities",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("authority_code", sa.String(16), primary_key=True),
)
