"""the audit chain: hashes on audit_log, its head, no replace; status and returned columns

Every audit row gets ``prev_hash`` and ``row_hash`` (SHA-256, `layers.store.audit.row_digest`)
and ``audit_head`` names the newest. Rows already in the log are chained here, oldest
first, in one pass during the upgrade (the UPDATE trigger is lifted for that pass only):
their hashes vouch for them from the upgrade on, not before. A trigger refuses any INSERT
whose id does not follow the newest row: ``INSERT OR REPLACE``, upserts and rows slipped in
between. ``status`` (the HTTP status answered) and ``returned`` (records a bulk read
returned) are NULL in older rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
DIGEST_TAG = "placerisk audit v1\n"
NEXT_ID_ONLY = ("audit_log is append-only: a row must take the next id (no replace, no "
                "upsert, no row between others)")
APPEND_ONLY = "audit_log is append-only: rows cannot be changed or deleted"  # as in 0003
BATCH = 1000

_log = sa.table(
    "audit_log", sa.column("id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)),
    *(sa.column(name, sa.String) for name in (
        "user_name", "role", "action", "object_type", "object_ids", "client", "purpose",
        "outcome", "detail")),
)


def _digest(row: Mapping[str, object]) -> str:
    """`layers.store.audit.row_digest` as of this revision (frozen: old rows keep verifying)."""
    fields = {}
    for name, value in row.items():
        if value is None or name == "row_hash":
            continue
        if isinstance(value, dt.datetime):
            utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(
                dt.UTC)
            value = utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fields[name] = value
    text = DIGEST_TAG + json.dumps(fields, sort_keys=True, ensure_ascii=False,
                                   separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def upgrade() -> None:
    for name, kind in (("status", sa.Integer()), ("returned", sa.Integer()),
                       ("prev_hash", sa.String(length=64)), ("row_hash", sa.String(length=64))):
        op.add_column("audit_log", sa.Column(name, kind, nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    last_id, last_hash = _chain_existing_rows()
    op.execute(sa.text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, :i, :h)")
               .bindparams(i=last_id, h=last_hash))
    _next_id_only()


def _chain_existing_rows() -> tuple[int | None, str]:
    """Hash the rows already logged, oldest first; return the newest id and hash."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER audit_log_no_update")
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    last_id, prev = None, GENESIS
    update = sa.text("UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :i")
    while True:  # a page at a time: a long log need not fit in memory
        page = sa.select(_log).order_by(_log.c.id).limit(BATCH)
        if last_id is not None:
            page = page.where(_log.c.id > last_id)
        rows = bind.execute(page).mappings().all()
        if not rows:
            break
        params = []
        for row in rows:
            digest = _digest({**row, "prev_hash": prev})
            params.append({"p": prev, "h": digest, "i": row["id"]})
            last_id, prev = row["id"], digest
        bind.execute(update, params)
    if sqlite:
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    return last_id, prev


def _next_id_only() -> None:
    """Refuse an INSERT whose id is not above the newest (SQLite: also one without an id)."""
    if op.get_bind().dialect.name == "sqlite":
        # In a BEFORE INSERT trigger an id SQLite would choose itself reads as -1.
        op.execute("CREATE TRIGGER audit_log_next_id_only BEFORE INSERT ON audit_log "
                   "WHEN NEW.id IS NULL OR NEW.id <= (SELECT coalesce(max(id), 0) FROM "
                   f"audit_log) BEGIN SELECT RAISE(ABORT, '{NEXT_ID_ONLY}'); END")
        return
    op.execute(f"""CREATE FUNCTION audit_log_next_id_only() RETURNS trigger AS $$
BEGIN
  IF NEW.id IS NULL OR NEW.id <= (SELECT coalesce(max(id), 0) FROM audit_log) THEN
    RAISE EXCEPTION '{NEXT_ID_ONLY}';
  END IF;
  RETURN NEW;
END; $$ LANGUAGE plpgsql""")
    op.execute("CREATE TRIGGER audit_log_next_id_only BEFORE INSERT ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION audit_log_next_id_only()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_log_next_id_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_next_id_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_next_id_only()")
    op.drop_table("audit_head")
    for name in ("row_hash", "prev_hash", "returned", "status"):
        op.drop_column("audit_log", name)  # SQLite 3.35+: ALTER TABLE DROP COLUMN
