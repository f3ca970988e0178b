"""What the database should say, given what the cluster says: pure, so every rule is tested
without a cluster.

Per row: an object that exists gives its status as `record_status` writes it (Ready True:
ready; Unknown, or a generation not yet observed: reconciling; False: failed with reason and
message; the revision and observed generation). An object absent from a complete list was
deleted out of band, and so is one marked for deletion (its finalizers are running: Flux
prunes, then it goes): its row becomes missing, unless it is still pending (never applied).
One labelled for another installation (it adopted the project) is missing here too, and the
message says who has it.
Per environment: `domain.health.environment_status` of its rows. Only differences are
returned, so an unchanged cluster writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from slipway.domain.health import MISSING_MESSAGE as MISSING_MESSAGE
from slipway.domain.health import MISSING_TEXT, TAKEN_OVER_TEXT, environment_status
from slipway.domain.model import ResourceStatus
from slipway.gitops import ObjectRef, ObjectStatus
from slipway.store.status_sync import ResourceChange, SyncedEnvironment, SyncedResource

# A missing row stores the English of `MISSING_TEXT` or `TAKEN_OVER_TEXT`; the views turn it
# back into the Text (`domain.health.resource_message`) to show it translated. An absent
# object leaves a pending row (nothing applied yet) and a missing one as they are.


@dataclass(frozen=True)
class RowChange:
    """One row the sync changed, for `slipway sync --once`'s summary."""

    project: str
    environment: str
    kind: str
    name: str
    before: ResourceStatus
    after: ResourceStatus
    message: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "project": self.project,
            "environment": self.environment,
            "kind": self.kind,
            "name": self.name,
            "before": self.before.value,
            "after": self.after.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class SyncPlan:
    resources: list[ResourceChange]
    environments: dict[int, ResourceStatus]
    changes: list[RowChange]
    checked: int


def ref_of(row: SyncedResource) -> ObjectRef:
    return ObjectRef(row.kind, row.name, row.namespace)


def namespace_of(ref: ObjectRef) -> str:
    """The environment namespace an object belongs to (a Namespace: itself)."""
    return ref.namespace or ref.name


def plan_sync(
    environments: Sequence[SyncedEnvironment],
    seen: Mapping[ObjectRef, ObjectStatus],
    *,
    installation: str,
    listed: bool,
    at: datetime,
) -> SyncPlan:
    """The changes that make `environments`' rows agree with `seen` (the objects the cluster
    has, by reference, of every installation; the rows are `installation`'s). `listed`:
    `seen` holds every object, so an absent one is gone."""
    resources: list[ResourceChange] = []
    statuses: dict[int, ResourceStatus] = {}
    changes: list[RowChange] = []
    checked = 0
    for env in environments:
        after: list[ResourceStatus] = []
        for row in env.resources:
            checked += 1
            change = observe(
                row, seen.get(ref_of(row)), installation=installation, listed=listed, at=at
            )
            after.append(change.status if change is not None else row.status)
            if change is not None:
                resources.append(change)
                message = change.error_message or change.ready_message
                changes.append(
                    RowChange(
                        env.project,
                        env.name,
                        row.kind,
                        row.name,
                        row.status,
                        change.status,
                        message,
                    )
                )
        status = environment_status(after)
        if env.resources and status is not env.status:
            statuses[env.id] = status
    return SyncPlan(resources, statuses, changes, checked)


def observe(
    row: SyncedResource,
    seen: ObjectStatus | None,
    *,
    installation: str,
    listed: bool,
    at: datetime,
) -> ResourceChange | None:
    """The row's new columns, or None when they would not change."""
    taken = seen is not None and seen.installation not in (None, installation)
    if seen is None or not seen.exists or seen.terminating or taken:
        known_gone = listed or (seen is not None and (seen.terminating or taken))
        kept = row.status is ResourceStatus.PENDING or (
            row.status is ResourceStatus.MISSING and not taken
        )
        if not known_gone or kept:
            return None
        wanted = ResourceChange(
            id=row.id,
            status=ResourceStatus.MISSING,
            error_message=TAKEN_OVER_TEXT if taken else MISSING_TEXT,
            ready_reason=None,
            ready_message=None,
            revision=row.revision,
            observed_generation=row.observed_generation,
            observed_at=at,
        )
    else:
        failed = seen.status is ResourceStatus.FAILED
        wanted = ResourceChange(
            id=row.id,
            status=seen.status,
            error_message=seen.message if failed else None,
            ready_reason=seen.ready.reason if seen.ready else None,
            ready_message=seen.message or None,
            revision=seen.revision,
            observed_generation=seen.observed_generation,
            observed_at=at,
        )
    now = (
        row.status,
        row.error_message,
        row.ready_reason,
        row.ready_message,
        row.revision,
        row.observed_generation,
    )
    new = (
        wanted.status,
        wanted.error_message,
        wanted.ready_reason,
        wanted.ready_message,
        wanted.revision,
        wanted.observed_generation,
    )
    return None if new == now else wanted
