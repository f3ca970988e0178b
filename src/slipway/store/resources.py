"""Queries for the GitOps resources of a project: what was applied, and its live status."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.domain.errors import NotFound
from slipway.domain.model import ResourceKind, ResourceStatus
from slipway.domain.text import t
from slipway.store._checks import as_enum, violation
from slipway.store.models import GitopsResource


def upsert_gitops_resource(
    session: Session,
    *,
    project_id: int,
    environment_id: int,
    type: ResourceKind | str,
    name: str,
    namespace: str | None,
    status: ResourceStatus | str,
    api_version: str | None = None,
    error_message: str | None = None,
    ready_reason: str | None = None,
    ready_message: str | None = None,
    last_applied_revision: str | None = None,
    observed_generation: int | None = None,
    last_synced_at: datetime | None = None,
) -> GitopsResource:
    """Inserts the resource or updates the row with the same (project, environment, type,
    name). Every argument is the column's new value, so None clears an old error message.

    Idempotent and safe when two workers record the same resource at once.
    """
    values = {
        "namespace": namespace,
        "status": as_enum(ResourceStatus, status, field="status"),
        "api_version": api_version,
        "error_message": error_message,
        "ready_reason": ready_reason,
        "ready_message": ready_message,
        "last_applied_revision": last_applied_revision,
        "observed_generation": observed_generation,
        "last_synced_at": last_synced_at,
    }
    kind = as_enum(ResourceKind, type, field="type")
    key = (project_id, environment_id, kind, name)
    resource = _find(session, *key)
    if resource is None:
        try:
            with session.begin_nested():
                resource = GitopsResource(
                    project_id=project_id,
                    environment_id=environment_id,
                    type=kind,
                    name=name,
                    **values,
                )
                session.add(resource)
            return resource
        except IntegrityError as exc:
            if violation(exc) == "foreign_key":
                raise NotFound(
                    t(
                        "no environment {environment_id} in project {project_id}",
                        environment_id=environment_id,
                        project_id=project_id,
                    ),
                    system="database",
                    hint=t("it may have been deleted"),
                ) from None
            resource = _find(session, *key)
            if resource is None:
                raise
    for column, value in values.items():
        setattr(resource, column, value)
    session.flush()
    return resource


def list_gitops_resources(
    session: Session, *, project_id: int, environment_id: int | None = None
) -> list[GitopsResource]:
    """A project's resources (optionally one environment's), in a stable display order."""
    query = sa.select(GitopsResource).where(GitopsResource.project_id == project_id)
    if environment_id is not None:
        query = query.where(GitopsResource.environment_id == environment_id)
    query = query.order_by(GitopsResource.environment_id, GitopsResource.id)
    return list(session.scalars(query))


def _find(
    session: Session, project_id: int, environment_id: int, kind: ResourceKind, name: str
) -> GitopsResource | None:
    return session.scalars(
        sa.select(GitopsResource).where(
            GitopsResource.project_id == project_id,
            GitopsResource.environment_id == environment_id,
            GitopsResource.type == kind,
            GitopsResource.name == name,
        )
    ).one_or_none()
