"""A project remembers the forge connection it was created with, so its runs use that
account's token (not whichever connection is newest when a step runs).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("forge_connection_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_projects_forge_connection_id_forge_connections"),
            "forge_connections",
            ["forge_connection_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_constraint(
            op.f("fk_projects_forge_connection_id_forge_connections"), type_="foreignkey"
        )
        batch.drop_column("forge_connection_id")
