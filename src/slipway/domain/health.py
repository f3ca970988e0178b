"""Health: what an environment's and a project's GitOps resources add up to, as `slipway
project show` prints it. Pure: the status sync and the views both derive it from the rows.

    any failed                  -> unhealthy (the first failure's message)
    else any missing            -> degraded (which objects)
    else all ready              -> healthy
    else all pending (or none)  -> pending (nothing applied yet)
    else                        -> progressing (Flux is still reconciling)

`environment_status` is the same rule in `ResourceStatus` terms, the environment row's.

Every reason is a `Text` (`slipway.domain.text`), so each face renders it in its reader's
language; what a controller said (a failed object's message) stays a parameter, as Flux wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from slipway.domain.model import ResourceStatus
from slipway.domain.text import t


class Health(StrEnum):
    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    PENDING = "pending"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


# What the status sync records for an object deleted out of band, and for one another
# installation took over (`--adopt` there relabels it).
MISSING_TEXT: Final = t("not in the cluster any more: it was deleted outside Slipway")
MISSING_MESSAGE: Final = str(MISSING_TEXT)
TAKEN_OVER_TEXT: Final = t(
    "another Slipway installation took it over (`--adopt`): it is that installation's now"
)
TAKEN_OVER_MESSAGE: Final = str(TAKEN_OVER_TEXT)
_SYNC_TEXTS: Final = {MISSING_MESSAGE: MISSING_TEXT, TAKEN_OVER_MESSAGE: TAKEN_OVER_TEXT}

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
        reason = (
            t(
                "{kind} {name} failed: {message}",
                kind=first.kind,
                name=first.name,
                message=first.message,
            )
            if first.message
            else t("{kind} {name} failed", kind=first.kind, name=first.name)
        )
        return HealthReport(Health.UNHEALTHY, reason, observed)
    if status is ResourceStatus.MISSING:
        gone = _named(r for r in resources if r.status is ResourceStatus.MISSING)
        return HealthReport(
            Health.DEGRADED, t("missing from the cluster: {objects}", objects=gone), observed
        )
    if status is ResourceStatus.READY:
        return HealthReport(Health.HEALTHY, None, observed)
    if status is ResourceStatus.PENDING:
        return HealthReport(Health.PENDING, None, observed)
    waiting = _named(r for r in resources if r.status is not ResourceStatus.READY)
    return HealthReport(
        Health.PROGRESSING, t("not ready yet: {objects}", objects=waiting), observed
    )


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
        return HealthReport(
            Health.PROGRESSING,
            t("not applied yet: {environments}", environments=", ".join(pending)),
            observed,
        )
    worst = min(verdicts, key=_SEVERITY.index)
    env, report = next((e, r) for e, r in reports.items() if r.health is worst)
    reason = (
        t("{environment}: {reason}", environment=env, reason=report.reason)
        if report.reason
        else None
    )
    return HealthReport(worst, reason, observed)


def resource_message(message: str | None) -> str | None:
    """A resource row's stored message as a face shows it: the sync's own missing messages
    become their `Text` again, anything else (a controller's words) is kept as it is.

    The row stores only the English (`gitops_resources` has no template columns): these
    messages have no parameters, so their English names them exactly, and recognising them
    here spares a migration and a second column pair that would hold constants; rows written
    before this change translate too."""
    return _SYNC_TEXTS.get(message, message) if message is not None else None


def _named(resources: Iterable[ResourceState]) -> str:
    """`Kind name, Kind name`: object identifiers, the same in every language."""
    return ", ".join(f"{r.kind} {r.name}" for r in resources)


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None
