"""OAuth connections: a forge connection keeps its refresh token, encrypted like its token,
beside the `expires_at` it already has, so a token about to expire is refreshed before use.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("forge_connections") as batch:
        batch.add_column(sa.Column("encrypted_refresh_token", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forge_connections") as batch:
        batch.drop_column("encrypted_refresh_token")
