"""A failed project keeps its error's template and parameters beside the English text, so
each face shows it in its reader's language; older rows have none and show as stored.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("error_template", sa.Text(), nullable=True))
        batch.add_column(sa.Column("error_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("error_params")
        batch.drop_column("error_template")
