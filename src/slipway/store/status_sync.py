"""The status sync's two queries: the rows it keeps true to the cluster (every resource of
every environment whose project is not being deleted), and one batched write of what changed.

The write is guarded by the project's status in the statement itself, so a project a delete
run took over between the read and the write is left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.domain.model import ProjectStatus, ResourceKind, ResourceStatus
from slipway.store.models import Environment, GitopsResource, Project

# Namespaces per query: far below every database's limit on bound parameters.
_CHUNK = 500


@dataclass(frozen=True)
class SyncedResource:
    """One `gitops_resources` row as the sync compares it with the cluster."""

    id: int
    environment_id: int
    kind: ResourceKind
    name: str
    namespace: str | None
    status: ResourceStatus
    error_message: str | None
    ready_reason: str | None
    ready_message: str | None
    revision: str | None
    observed_generation: int | None


@dataclass(frozen=True)
class SyncedEnvironment:
    id: int
    project: str
    name: str
    namespace: str
    status: ResourceStatus
    resources: tuple[SyncedResource, ...]


@dataclass(frozen=True)
class ResourceChange:
    """A row's new columns; `observed_at` becomes its `last_synced_at`."""

    id: int
    status: ResourceStatus
    error_message: str | None
    ready_reason: str | None
    ready_message: str | None
    revision: str | None
    observed_generation: int | None
    observed_at: datetime


def environments_to_sync(
    session: Session, *, namespaces: Collection[str] | None = None
) -> list[SyncedEnvironment]:
    """The environments (all, or those in `namespaces`) of projects not being deleted, each
    with its resource rows, in two queries per chunk of namespaces."""
    if namespaces is None:
        return _environments(session, None)
    wanted = sorted(set(namespaces))
    found: list[SyncedEnvironment] = []
    for start in range(0, len(wanted), _CHUNK):
        found += _environments(session, wanted[start : start + _CHUNK])
    return found


def _environments(session: Session, namespaces: Sequence[str] | None) -> list[SyncedEnvironment]:
    query = (
        sa.select(
            Environment.id,
            Project.name.label("project"),
            Environment.name,
            Environment.namespace,
            Environment.status,
        )
        .join(Project, Project.id == Environment.project_id)
        .where(Project.status != ProjectStatus.DELETING)
        .order_by(Environment.id)
    )
    if namespaces is not None:
        query = query.where(Environment.namespace.in_(namespaces))
    envs = session.execute(query).all()
    if not envs:
        return []
    rows = session.scalars(
        sa.select(GitopsResource)
        .where(GitopsResource.environment_id.in_([env.id for env in envs]))
        .order_by(GitopsResource.environment_id, GitopsResource.id)
    )
    resources: dict[int, list[SyncedResource]] = {env.id: [] for env in envs}
    for row in rows:
        resources[row.environment_id].append(
            SyncedResource(
                id=row.id,
                environment_id=row.environment_id,
                kind=row.type,
                name=row.name,
                namespace=row.namespace,
                status=row.status,
                error_message=row.error_message,
                ready_reason=row.ready_reason,
                ready_message=row.ready_message,
                revision=row.last_applied_revision,
                observed_generation=row.observed_generation,
            )
        )
    return [
        SyncedEnvironment(
            env.id, env.project, env.name, env.namespace, env.status, tuple(resources[env.id])
        )
        for env in envs
    ]


def record_sync(
    session: Session,
    *,
    resources: Sequence[ResourceChange],
    environments: Mapping[int, ResourceStatus],
) -> None:
    """Writes the changed rows and environment statuses, one statement per table (executed
    for many rows), skipping any whose project is now being deleted."""
    live = sa.select(Project.id).where(Project.status != ProjectStatus.DELETING)
    table = cast(sa.Table, GitopsResource.__table__)
    if resources:
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"), table.c.project_id.in_(live))
            .values(
                status=sa.bindparam("new_status"),
                error_message=sa.bindparam("new_error"),
                ready_reason=sa.bindparam("new_reason"),
                ready_message=sa.bindparam("new_message"),
                last_applied_revision=sa.bindparam("new_revision"),
                observed_generation=sa.bindparam("new_generation"),
                last_synced_at=sa.bindparam("new_synced_at"),
                updated_at=sa.bindparam("new_synced_at"),
            ),
            [
                {
                    "row_id": change.id,
                    "new_status": change.status,
                    "new_error": change.error_message,
                    "new_reason": change.ready_reason,
                    "new_message": change.ready_message,
                    "new_revision": change.revision,
                    "new_generation": change.observed_generation,
                    "new_synced_at": change.observed_at,
                }
                for change in resources
            ],
        )
    if environments:
        envs = cast(sa.Table, Environment.__table__)
        session.execute(
            sa.update(envs)
            .where(envs.c.id == sa.bindparam("env_id"), envs.c.project_id.in_(live))
            .values(status=sa.bindparam("new_status")),
            [{"env_id": env_id, "new_status": status} for env_id, status in environments.items()],
        )
