"""Progress events keep their message's template and parameters beside the English text, so
each face shows them in its reader's language; older rows have none and show as stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("project_events") as batch:
        batch.add_column(sa.Column("message_template", sa.Text(), nullable=True))
        batch.add_column(sa.Column("message_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project_events") as batch:
        batch.drop_column("message_params")
        batch.drop_column("message_template")
