"""versions of edited records (record_changes) and who decided each level (place_levels)

Places, reports and activities get a ``version`` (1 when stored, one more at every edit)
for optimistic concurrency: an edit names the version it was made from, and an edit of an
older version is refused. ``record_changes`` keeps every change made through placerisk's
forms, API or command line: the record, the new version, when, by whom, why, and the
values before and after (JSON of the changed columns only), so that a record can be shown
as it was known at any time. ``place_levels`` gets ``decided_by`` and ``decision_ref`` (the
MACE meeting or triage note a level decision was made in).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED = ("places", "reports", "activities")


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                       server_default="1"))
    with op.batch_alter_table("place_levels") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(length=64)))
        batch.add_column(sa.Column("decision_ref", sa.String(length=64)))
    op.create_table(
        "record_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16)),
        sa.Column("reason", sa.Text()),
        sa.Column("before_json", sa.Text(), nullable=False),
        sa.Column("after_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_changes")),
        sa.UniqueConstraint("table_name", "record_id", "version",
                            name=op.f("uq_record_changes_table_name")),
    )
    op.create_index(op.f("ix_record_changes_changed_at"), "record_changes", ["changed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_record_changes_changed_at"), table_name="record_changes")
    op.drop_table("record_changes")
    with op.batch_alter_table("place_levels") as batch:
        batch.drop_column("decision_ref")
        batch.drop_column("decided_by")
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
