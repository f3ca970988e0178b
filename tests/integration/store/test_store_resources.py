"""GitOps resources: recorded once per (project, environment, kind, name), updated in place."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from slipway.domain.errors import InvalidInput, NotFound
from slipway.domain.model import ResourceKind, ResourceStatus
from slipway.store import (
    Project,
    SessionFactory,
    list_gitops_resources,
    unit_of_work,
    upsert_environment,
    upsert_gitops_resource,
)

NewProject = Callable[..., Project]
SEED_RUNBOOK_QUERY = (
    "SELECT id, project_id, environment_id, type, name, namespace, status, error_message, "
    "created_at, updated_at FROM gitops_resources"
)


@pytest.fixture
def ids(factory: SessionFactory, new_project: NewProject) -> tuple[int, int]:
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop").id
        environment = upsert_environment(
            session,
            project_id=project_id,
            name="staging",
            namespace="project-shop-staging",
            position=0,
        )
        return project_id, environment.id


def test_upsert_is_idempotent_and_updates_the_status(
    factory: SessionFactory, ids: tuple[int, int]
) -> None:
    project_id, environment_id = ids
    key: dict[str, Any] = {
        "project_id": project_id,
        "environment_id": environment_id,
        "type": ResourceKind.KUSTOMIZATION,
        "name": "shop-staging",
        "namespace": "project-shop-staging",
    }
    with unit_of_work(factory) as session:
        first = upsert_gitops_resource(
            session,
            **key,
            status="failed",
            api_version="kustomize.toolkit.fluxcd.io/v1",
            error_message="kustomize build failed",
        )
    synced = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    with unit_of_work(factory) as session:
        second = upsert_gitops_resource(
            session,
            **key,
            status=ResourceStatus.READY,
            api_version="kustomize.toolkit.fluxcd.io/v1",
            ready_reason="ReconciliationSucceeded",
            ready_message="Applied revision: main@sha1:abc",
            last_applied_revision="main@sha1:abc",
            observed_generation=2,
            last_synced_at=synced,
        )
    assert second.id == first.id

    with unit_of_work(factory) as session:
        rows = session.execute(sa.text(SEED_RUNBOOK_QUERY)).mappings().all()
        assert len(rows) == 1
        row = rows[0]
        assert (row["type"], row["name"], row["status"], row["error_message"]) == (
            "Kustomization",
            "shop-staging",
            "ready",
            None,
        )
        (resource,) = list_gitops_resources(session, project_id=project_id)
        assert resource.type is ResourceKind.KUSTOMIZATION
        assert (resource.observed_generation, resource.last_synced_at) == (2, synced)


def test_concurrent_upserts_of_one_resource_leave_one_row(
    factory: SessionFactory, ids: tuple[int, int]
) -> None:
    project_id, environment_id = ids
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def record(worker: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(factory) as session:
                upsert_gitops_resource(
                    session,
                    project_id=project_id,
                    environment_id=environment_id,
                    type="GitRepository",
                    name="shop-repo",
                    namespace="project-shop-staging",
                    status="reconciling",
                    ready_message=f"worker {worker}",
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    with unit_of_work(factory) as session:
        assert len(list_gitops_resources(session, project_id=project_id)) == 1


def test_kinds_and_statuses_are_checked(factory: SessionFactory, ids: tuple[int, int]) -> None:
    project_id, environment_id = ids
    common: dict[str, Any] = {
        "project_id": project_id,
        "environment_id": environment_id,
        "name": "x",
    }
    with unit_of_work(factory) as session:
        with pytest.raises(InvalidInput, match="'Deployment' is not one of"):
            upsert_gitops_resource(
                session, **common, type="Deployment", namespace=None, status="ready"
            )
        with pytest.raises(InvalidInput, match="'green' is not one of"):
            upsert_gitops_resource(session, **common, type="Secret", namespace=None, status="green")
        with pytest.raises(NotFound):
            upsert_gitops_resource(
                session,
                project_id=project_id,
                environment_id=environment_id + 50,
                type="Secret",
                name="x",
                namespace=None,
                status="ready",
            )
