"""Users and their API tokens: a user's name is unique, an admin sees every project, a token
is stored only as its SHA-256 hash, and a project remembers the user who created it (None:
the operator on the command line).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_unique_constraint(op.f("uq_users_name"), ["name"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_projects_user_id_users"), "users", ["user_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_projects_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_index(op.f("ix_projects_user_id"))
        batch.drop_constraint(op.f("fk_projects_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_name"), type_="unique")
        batch.drop_column("is_admin")
