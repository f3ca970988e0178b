"""Runs: creation is a project's run 1, and each repair or delete starts the next, whose
progress events climb from 0 to 100 again (percent never goes backwards within a run).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for table in ("projects", "project_events"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("run", sa.Integer(), nullable=False, server_default="1"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("run", server_default=None)


def downgrade() -> None:
    for table in ("project_events", "projects"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("run")
