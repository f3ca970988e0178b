"""Health from resource statuses: each rule of `domain/health.py`, per environment and per
project, and the environment row's status the sync writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slipway.domain.health import (
    Health,
    ResourceState,
    environment_health,
    environment_status,
    project_health,
)
from slipway.domain.model import ResourceStatus as S

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _env(*statuses: S, message: str | None = None) -> list[ResourceState]:
    return [
        ResourceState(
            kind="Kustomization" if index else "Namespace",
            name=f"obj-{index}",
            status=status,
            message=message if status is S.FAILED else None,
            observed_at=T0 + timedelta(seconds=index),
        )
        for index, status in enumerate(statuses)
    ]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.READY, S.READY], S.READY),
        ([S.READY, S.FAILED, S.MISSING], S.FAILED),
        ([S.READY, S.MISSING, S.RECONCILING], S.MISSING),
        ([S.READY, S.RECONCILING], S.RECONCILING),
        ([S.READY, S.PENDING], S.RECONCILING),
        ([S.PENDING, S.PENDING], S.PENDING),
        ([], S.PENDING),
    ],
)
def test_environment_status(statuses: list[S], expected: S) -> None:
    assert environment_status(statuses) is expected


def test_all_ready_is_healthy_with_the_latest_observation() -> None:
    report = environment_health(_env(S.READY, S.READY, S.READY))
    assert report.health is Health.HEALTHY
    assert report.reason is None
    assert report.observed_at == T0 + timedelta(seconds=2)


def test_a_failure_is_unhealthy_with_the_first_failures_message() -> None:
    resources = [
        *_env(S.READY, S.MISSING),
        ResourceState("Kustomization", "web", S.FAILED, "kustomize build failed: no file"),
        ResourceState("GitRepository", "src", S.FAILED, "later failure"),
    ]
    report = environment_health(resources)
    assert report.health is Health.UNHEALTHY
    assert report.reason == "Kustomization web failed: kustomize build failed: no file"


def test_missing_objects_degrade_and_are_named() -> None:
    report = environment_health(_env(S.MISSING, S.READY, S.MISSING))
    assert report.health is Health.DEGRADED
    assert report.reason == "missing from the cluster: Namespace obj-0, Kustomization obj-2"


def test_reconciling_is_progressing_and_nothing_applied_is_pending() -> None:
    assert environment_health(_env(S.READY, S.RECONCILING)).health is Health.PROGRESSING
    assert environment_health(_env(S.PENDING, S.PENDING)).health is Health.PENDING
    assert environment_health([]).health is Health.PENDING


def test_a_project_is_its_least_healthy_environment() -> None:
    report = project_health(
        {
            "dev": _env(S.READY, S.READY),
            "staging": _env(S.READY, S.MISSING),
            "prod": _env(S.READY, S.FAILED, message="boom"),
        }
    )
    assert report.health is Health.UNHEALTHY
    assert report.reason == "prod: Kustomization obj-1 failed: boom"
    degraded = project_health({"dev": _env(S.READY), "staging": _env(S.MISSING, S.RECONCILING)})
    assert degraded.health is Health.DEGRADED
    assert degraded.reason is not None and degraded.reason.startswith("staging: missing")


def test_project_health_of_healthy_and_pending_environments_is_progressing() -> None:
    assert project_health({"dev": _env(S.READY), "prod": _env(S.READY)}).health is Health.HEALTHY
    mixed = project_health({"dev": _env(S.READY), "prod": _env(S.PENDING)})
    assert mixed.health is Health.PROGRESSING
    assert mixed.reason == "not applied yet: prod"
    assert project_health({}).health is Health.PENDING
