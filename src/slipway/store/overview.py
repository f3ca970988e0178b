"""Everything a project listing shows, for many projects in a fixed number of queries
(five, whatever the number of projects): no query per project."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.domain.model import ProjectStatus
from slipway.store._checks import as_enum
from slipway.store.models import Environment, GitopsResource, Project, ProjectEvent, Repository

R = TypeVar("R", Environment, GitopsResource)


@dataclass(frozen=True)
class ProjectRows:
    """One project and the rows recorded under it."""

    project: Project
    environments: list[Environment]
    repository: Repository | None
    resources: list[GitopsResource]
    latest_event: ProjectEvent | None


def project_overviews(
    session: Session,
    *,
    names: Sequence[str] | None = None,
    status: ProjectStatus | str | None = None,
    user_id: int | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[ProjectRows]:
    """The projects (all, or those named, or those in `status`, or `user_id`'s), by name,
    with their rows; `after` and `limit` take one page of them (keyset: stable while rows
    are added)."""
    query = sa.select(Project).order_by(Project.name)
    if names is not None:
        query = query.where(Project.name.in_(list(names)))
    if status is not None:
        query = query.where(Project.status == as_enum(ProjectStatus, status, field="status"))
    if user_id is not None:
        query = query.where(Project.user_id == user_id)
    if after is not None:
        query = query.where(Project.name > after)
    if limit is not None:
        query = query.limit(limit)
    projects = list(session.scalars(query))
    ids = [p.id for p in projects]
    if not ids:
        return []
    environments = _grouped(
        session.scalars(
            sa.select(Environment)
            .where(Environment.project_id.in_(ids))
            .order_by(Environment.position, Environment.name)
        )
    )
    resources = _grouped(
        session.scalars(
            sa.select(GitopsResource)
            .where(GitopsResource.project_id.in_(ids))
            .order_by(GitopsResource.environment_id, GitopsResource.id)
        )
    )
    repositories = {
        r.project_id: r
        for r in session.scalars(sa.select(Repository).where(Repository.project_id.in_(ids)))
    }
    latest = _latest_events(session, ids)
    return [
        ProjectRows(
            project=p,
            environments=environments.get(p.id, []),
            repository=repositories.get(p.id),
            resources=resources.get(p.id, []),
            latest_event=latest.get(p.id),
        )
        for p in projects
    ]


def _latest_events(session: Session, ids: list[int]) -> dict[int, ProjectEvent]:
    newest = (
        sa.select(ProjectEvent.project_id, sa.func.max(ProjectEvent.sequence).label("sequence"))
        .where(ProjectEvent.project_id.in_(ids))
        .group_by(ProjectEvent.project_id)
        .subquery()
    )
    rows = session.scalars(
        sa.select(ProjectEvent).join(
            newest,
            sa.and_(
                ProjectEvent.project_id == newest.c.project_id,
                ProjectEvent.sequence == newest.c.sequence,
            ),
        )
    )
    return {e.project_id: e for e in rows}


def _grouped(rows: sa.ScalarResult[R]) -> dict[int, list[R]]:
    grouped: dict[int, list[R]] = defaultdict(list)
    for row in rows:
        grouped[row.project_id].append(row)
    return grouped
