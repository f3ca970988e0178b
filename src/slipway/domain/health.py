"""Health: what an environment's and a project's GitOps resources add up to, as `slipway
project show` prints it. Pure: the status sync and the views both derive it from the rows.

    any failed                  -> unhealthy (the first failure's message)
    else any missing            -> degraded (which objects)
    else all ready              -> healthy
    else all pending (or none)  -> pending (nothing applied yet)
    else                        -> progressing (Flux is still reconciling)

`environment_status` is the same rule in `ResourceStatus` terms, the environment row's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from slipway.domain.model import ResourceStatus


class Health(StrEnum):
    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    PENDING = "pending"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


# Worst first: a project is as healthy as its least healthy environment.
_SEVERITY = (Health.UNHEALTHY, Health.DEGRADED, Health.PROGRESSING, Health.PENDING, Health.HEALTHY)


@dataclass(frozen=True)
class ResourceState:
    """One resource as health reads it: its row's status, its controller's message when it
    failed, and when the sync last saw it change."""

    kind: str
    name: str
    status: ResourceStatus
    message: str | None = None
    observed_at: datetime | None = None


@dataclass(frozen=True)
class HealthReport:
    """The verdict, why (None when healthy or pending), and the latest observation behind it."""

    health: Health
    reason: str | None = None
    observed_at: datetime | None = None


def environment_status(statuses: Iterable[ResourceStatus]) -> ResourceStatus:
    """The environment row's status from its resources' (none: pending)."""
    seen = set(statuses)
    for status in (ResourceStatus.FAILED, ResourceStatus.MISSING):
        if status in seen:
            return status
    if seen == {ResourceStatus.READY}:
        return ResourceStatus.READY
    if not seen or seen == {ResourceStatus.PENDING}:
        return ResourceStatus.PENDING
    return ResourceStatus.RECONCILING


def environment_health(resources: Sequence[ResourceState]) -> HealthReport:
    observed = _latest(r.observed_at for r in resources)
    status = environment_status(r.status for r in resources)
    if status is ResourceStatus.FAILED:
        first = next(r for r in resources if r.status is ResourceStatus.FAILED)
        reason = f"{first.kind} {first.name} failed" + (
            f": {first.message}" if first.message else ""
        )
        return HealthReport(Health.UNHEALTHY, reason, observed)
    if status is ResourceStatus.MISSING:
        gone = [f"{r.kind} {r.name}" for r in resources if r.status is ResourceStatus.MISSING]
        return HealthReport(
            Health.DEGRADED, f"missing from the cluster: {', '.join(gone)}", observed
        )
    if status is ResourceStatus.READY:
        return HealthReport(Health.HEALTHY, None, observed)
    if status is ResourceStatus.PENDING:
        return HealthReport(Health.PENDING, None, observed)
    waiting = [f"{r.kind} {r.name}" for r in resources if r.status is not ResourceStatus.READY]
    return HealthReport(Health.PROGRESSING, f"not ready yet: {', '.join(waiting)}", observed)


def project_health(environments: Mapping[str, Sequence[ResourceState]]) -> HealthReport:
    """The least healthy environment's verdict, its reason prefixed with the environment;
    healthy environments beside pending ones make the project progressing."""
    reports = {env: environment_health(resources) for env, resources in environments.items()}
    observed = _latest(report.observed_at for report in reports.values())
    verdicts = {report.health for report in reports.values()}
    if not verdicts:
        return HealthReport(Health.PENDING, None, observed)
    if verdicts == {Health.HEALTHY, Health.PENDING}:
        pending = [env for env, report in reports.items() if report.health is Health.PENDING]
        return HealthReport(Health.PROGRESSING, f"not applied yet: {', '.join(pending)}", observed)
    worst = min(verdicts, key=_SEVERITY.index)
    env, report = next((e, r) for e, r in reports.items() if r.health is worst)
    reason = f"{env}: {report.reason}" if report.reason else None
    return HealthReport(worst, reason, observed)


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None
