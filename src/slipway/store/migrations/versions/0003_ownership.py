"""Ownership and least privilege: the installation's identity, one namespace per environment
across the installation, secret template parameters encrypted, the way Flux reads each
project's repository, and per-project read-only deploy keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# 64 random bits: short enough for a label value, long enough that two installations differ.
INSTALLATION_ID_BYTES = 8


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.bulk_insert(
        installation,
        [{"id": secrets.token_hex(INSTALLATION_ID_BYTES), "created_at": datetime.now(UTC)}],
    )
    _refuse_shared_namespaces()
    with op.batch_alter_table("environments") as batch:
        batch.create_unique_constraint(op.f("uq_environments_namespace"), ["namespace"])
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("encrypted_parameters", sa.LargeBinary(), nullable=True))
        # Projects created before this revision put the token in their Secrets.
        batch.add_column(
            sa.Column("git_auth", sa.String(length=16), nullable=False, server_default="token")
        )
        batch.add_column(
            sa.Column("adopt", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("projects") as batch:
        batch.alter_column("git_auth", server_default=None)
        batch.alter_column("adopt", server_default=None)
    with op.batch_alter_table("repositories") as batch:
        batch.add_column(sa.Column("ssh_url", sa.String(length=1024), nullable=True))
    op.create_table(
        "deploy_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("known_hosts", sa.Text(), nullable=True),
        sa.Column("forge_key_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_deploy_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deploy_keys")),
    )
    op.create_index(op.f("ix_deploy_keys_project_id"), "deploy_keys", ["project_id"])


def _refuse_shared_namespaces() -> None:
    """Before this revision two projects could compose into one namespace; such a database
    cannot take the unique constraint until one of them is deleted, so say which."""
    shared = op.get_bind().execute(
        sa.text("SELECT namespace FROM environments GROUP BY namespace HAVING COUNT(*) > 1")
    )
    names = [row[0] for row in shared]
    if names:
        raise RuntimeError(
            "these namespaces are recorded for more than one project: "
            f"{', '.join(names)}; delete all but one of each project "
            "(`slipway project delete`) and migrate again"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_deploy_keys_project_id"), table_name="deploy_keys")
    op.drop_table("deploy_keys")
    with op.batch_alter_table("repositories") as batch:
        batch.drop_column("ssh_url")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("adopt")
        batch.drop_column("git_auth")
        batch.drop_column("encrypted_parameters")
    with op.batch_alter_table("environments") as batch:
        batch.drop_constraint(op.f("uq_environments_namespace"), type_="unique")
    op.drop_table("installation")
