"""Queries of the OAuth token refresher: which connections to refresh, and which projects'
git Secrets carry a connection's token. Both are filtered in SQL, so a pass reads only the
rows it acts on and decrypts nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.domain.model import GitAuthMethod, ProjectStatus, ResourceKind, ResourceStatus
from slipway.store.models import ForgeConnection, GitopsResource, Project, Repository

# A project in these states has had its environments applied: its Secret exists to update.
APPLIED_STATUSES = (ProjectStatus.ACTIVE, ProjectStatus.DEGRADED)


@dataclass(frozen=True)
class TokenSecretProject:
    """A `--git-auth token` project whose Flux reads with its connection's token, where
    from, and which version of the token the connection holds."""

    project: Project
    connection_id: int
    clone_url: str
    branch: str
    # Tells the connection's stored tokens apart without decrypting one: a digest of its
    # ciphertext, new whenever the token is stored again.
    token_version: str
    # Still in a run (creation or repair) that has applied its Secret: the run's step may
    # yet write the token it read, so the Secret is worth applying again on every pass.
    running: bool


def token_secret_projects(
    session: Session, *, connection_id: int | None = None
) -> list[TokenSecretProject]:
    """Every `--git-auth token` project acting as a stored connection (only `connection_id`'s
    when given) with a repository, whose git Secret was applied: active or degraded, or
    initializing with a Secret row recorded as applied (a run's GitOps step got that far)."""
    secret_applied = (
        sa.exists()
        .where(
            GitopsResource.project_id == Project.id,
            GitopsResource.type == ResourceKind.SECRET,
            GitopsResource.status != ResourceStatus.PENDING,
        )
        .correlate(Project)
    )
    query = (
        sa.select(
            Project,
            ForgeConnection.id,
            Repository.clone_url,
            Repository.default_branch,
            ForgeConnection.encrypted_token,
        )
        .join(Repository, Repository.project_id == Project.id)
        .join(ForgeConnection, ForgeConnection.id == Project.forge_connection_id)
        .where(
            Project.git_auth == GitAuthMethod.TOKEN,
            sa.or_(
                Project.status.in_(APPLIED_STATUSES),
                sa.and_(Project.status == ProjectStatus.INITIALIZING, secret_applied),
            ),
        )
        .order_by(Project.id)
    )
    if connection_id is not None:
        query = query.where(Project.forge_connection_id == connection_id)
    return [
        TokenSecretProject(
            project,
            cid,
            clone_url,
            branch,
            hashlib.sha256(encrypted).hexdigest()[:16],
            project.status is ProjectStatus.INITIALIZING,
        )
        for project, cid, clone_url, branch, encrypted in session.execute(query).tuples()
    ]


def expiring_connection_ids(session: Session, *, before: datetime) -> list[int]:
    """The stored connections that can be refreshed and whose token expires by `before`."""
    return list(
        session.scalars(
            sa.select(ForgeConnection.id)
            .where(
                ForgeConnection.expires_at.is_not(None),
                ForgeConnection.expires_at <= before,
                ForgeConnection.encrypted_refresh_token.is_not(None),
            )
            .order_by(ForgeConnection.id)
        )
    )
