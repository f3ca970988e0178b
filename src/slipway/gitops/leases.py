"""coordination.k8s.io/v1 Leases, the record controllers elect a leader with (client-go's
`resourcelock.LeaseLock`): read, create and replace one, as plain `LeaseRecord`s.

Replace carries the resourceVersion it read, so of two candidates writing the same lease the
second gets 409 and `Conflict`: that is what makes the election safe without a lock service.
The election itself (when to take, renew or give up a lease) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from slipway.domain.errors import NotFound
from slipway.gitops._errors import Operation
from slipway.gitops.cluster import ClusterClient

LEASES: Final = "leases.coordination.k8s.io"


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says: who holds it ("" once released), for how long after `renewed_at`,
    since when, and how often it changed hands. `resource_version` is the version read (None
    for a record not written yet): a replace succeeds only if nobody wrote in between."""

    holder: str
    duration_seconds: int
    acquired_at: datetime | None
    renewed_at: datetime | None
    transitions: int
    resource_version: str | None = None


async def read_lease(cluster: ClusterClient, namespace: str, name: str) -> LeaseRecord | None:
    """The lease, or None when it does not exist."""
    op = Operation("get", None, name, namespace, resource=LEASES)
    try:
        lease = await cluster._call(
            op, lambda: cluster._client.get(Lease, name, namespace=namespace)
        )
    except NotFound:
        return None
    return _record(lease)


async def create_lease(
    cluster: ClusterClient, namespace: str, name: str, record: LeaseRecord
) -> LeaseRecord:
    """Creates the lease; `Conflict` when another candidate created it first."""
    op = Operation("create", None, name, namespace, resource=LEASES)
    lease = _lease(namespace, name, record)
    return _record(await cluster._call(op, lambda: cluster._client.create(lease)))


async def replace_lease(
    cluster: ClusterClient, namespace: str, name: str, record: LeaseRecord
) -> LeaseRecord:
    """Writes `record` over the lease read at `record.resource_version`; `Conflict` when it
    changed since (another candidate wrote first), `NotFound` when it was deleted."""
    op = Operation("update", None, name, namespace, resource=LEASES)
    lease = _lease(namespace, name, record)
    return _record(await cluster._call(op, lambda: cluster._client.replace(lease)))


def _lease(namespace: str, name: str, record: LeaseRecord) -> Lease:
    return Lease(
        metadata=ObjectMeta(
            name=name, namespace=namespace, resourceVersion=record.resource_version
        ),
        spec=LeaseSpec(
            holderIdentity=record.holder,
            leaseDurationSeconds=record.duration_seconds,
            acquireTime=record.acquired_at,
            renewTime=record.renewed_at,
            leaseTransitions=record.transitions,
        ),
    )


def _record(lease: Lease) -> LeaseRecord:
    spec = lease.spec or LeaseSpec()
    return LeaseRecord(
        holder=spec.holderIdentity or "",
        duration_seconds=spec.leaseDurationSeconds or 0,
        acquired_at=spec.acquireTime,
        renewed_at=spec.renewTime,
        transitions=spec.leaseTransitions or 0,
        resource_version=lease.metadata.resourceVersion if lease.metadata else None,
    )
