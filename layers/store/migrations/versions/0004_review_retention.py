"""place reviews, and soft deletion of places (erased_at, erased_by)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite cannot ALTER most things; adding nullable columns and an index goes through
    # batch mode, which here needs no table copy (so the foreign keys onto places hold).
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_by", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_places_erased_at"), ["erased_at"], unique=False)
    op.create_table(
        "place_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("new_level", sa.SmallInteger(), nullable=True),
        sa.Column("next_review_due", sa.Date(), nullable=True),
        sa.CheckConstraint("decision IN ('retain', 'lower', 'close')",
                           name=op.f("ck_place_reviews_decision")),
        sa.CheckConstraint("new_level BETWEEN 1 AND 4", name=op.f("ck_place_reviews_new_level")),
        sa.ForeignKeyConstraint(["place_id"], ["places.id"],
                                name=op.f("fk_place_reviews_place_id_places"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_reviews")),
    )
    op.create_index(op.f("ix_place_reviews_place_id"), "place_reviews", ["place_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_place_reviews_place_id"), table_name="place_reviews")
    op.drop_table("place_reviews")
    op.drop_index(op.f("ix_places_erased_at"), table_name="places")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of places would drop the original table,
    # which with foreign keys on deletes the rows that point at it.
    for column in ("erased_by", "erased_at"):
        op.execute(f"ALTER TABLE places DROP COLUMN {column}")
