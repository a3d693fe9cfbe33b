"""the authorities each account may see (user_authorities)

One row per account and authority code (``areas.authority_code``); the code ``*`` stands for
every authority, including those loaded later. Every account that exists at the upgrade gets
``*``: it keeps seeing what it saw. An account without any row sees no authority.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALL_AUTHORITIES = "*"  # as layers.store.schema.ALL_AUTHORITIES (frozen here)


def upgrade() -> None:
    op.create_table(
        "user_authorities",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_user_authorities_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "authority_code", name=op.f("pk_user_authorities")),
    )
    op.execute(sa.text("INSERT INTO user_authorities (user_id, authority_code) "
                       "SELECT id, :all FROM users").bindparams(all=ALL_AUTHORITIES))


def downgrade() -> None:
    op.drop_table("user_authorities")
